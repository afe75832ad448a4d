/* Shared by the libFuzzer targets: splitting one input into parts. */
#ifndef HOOKD_FUZZ_H
#define HOOKD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits [data, data+size) at the first "\n" into *head (NUL-terminated copy in buf) and the rest. */
static inline size_t fuzz_split_line(const uint8_t *data, size_t size, char *buf, size_t buf_size, const uint8_t **rest,
                                     size_t *rest_len) {
    const uint8_t *nl = memchr(data, '\n', size);
    size_t line = nl ? (size_t)(nl - data) : size, n = line < buf_size ? line : buf_size - 1;
    memcpy(buf, data, n);
    buf[n] = '\0';
    *rest = nl ? nl + 1 : data + size;
    *rest_len = nl ? size - line - 1 : 0;
    return line;
}

#endif
