#include "hookd/rfc3339.h"

#define MS_PER_DAY 86400000LL
/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z */
#define MS_MIN (-62167219200000LL)
#define MS_MAX 253402300799999LL

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), exact for every year. */
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = (int)(z - era * 146097);
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

static int days_in_month(int y, int m) {
    static const unsigned char days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) return 29;
    return days[m - 1];
}

/* n digits at s as a number, or -1 when one of them is not a digit. */
static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i] - '0';
        if (c > 9) return -1;
        v = v * 10 + (int)c;
    }
    return v;
}

int hd_rfc3339_parse(const char *s, size_t len, int64_t *ms) {
    /* full-date "T" partial-time without fraction: YYYY-MM-DDTHH:MM:SS */
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        sec < 0 || sec > 60)
        return -1;
    size_t i = 19;
    int frac = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (i - start < 3) frac = frac * 10 + (s[i] - '0');
        if (i == start) return -1;
        for (size_t n = i - start; n < 3; n++)
            frac *= 10;
    }
    int offset_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 <= len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) return -1;
        offset_min = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return -1;
    }
    if (i != len) return -1;
    int64_t utc_min = days_from_civil(y, mo, d) * 1440 + h * 60 + mi - offset_min;
    /* A leap second ends a UTC day. */
    if (sec == 60 && ((utc_min % 1440) + 1440) % 1440 != 1439) return -1;
    *ms = (utc_min * 60 + sec) * 1000 + frac;
    return 0;
}

static void put2(char *p, int v) {
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

size_t hd_rfc3339_format(int64_t ms, char out[HD_RFC3339_SIZE]) {
    if (ms < MS_MIN) ms = MS_MIN;
    if (ms > MS_MAX) ms = MS_MAX;
    /* Floor division: before 1970 the day starts earlier, not later. */
    int64_t days = (ms >= 0 ? ms : ms - (MS_PER_DAY - 1)) / MS_PER_DAY;
    int in_day = (int)(ms - days * MS_PER_DAY);
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    put2(out, y / 100);
    put2(out + 2, y % 100);
    out[4] = '-';
    put2(out + 5, m);
    out[7] = '-';
    put2(out + 8, d);
    out[10] = 'T';
    put2(out + 11, in_day / 3600000);
    out[13] = ':';
    put2(out + 14, in_day / 60000 % 60);
    out[16] = ':';
    put2(out + 17, in_day / 1000 % 60);
    out[19] = '.';
    out[20] = (char)('0' + in_day % 1000 / 100);
    put2(out + 21, in_day % 100);
    out[23] = 'Z';
    out[24] = '\0';
    return HD_RFC3339_SIZE - 1;
}
