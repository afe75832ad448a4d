/* Replays corpus files through a fuzz target without libFuzzer (gcc, sanitizers): `make unit` runs every file of
 * tests/fuzz/corpus/<target>/ so that each crash once found stays a regression test. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

int main(int argc, char **argv) {
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t buf[1 << 20];
        size_t len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees overreads */
        memcpy(copy, buf, len);
        LLVMFuzzerTestOneInput(copy, len);
        free(copy);
        n++;
    }
    printf("%s: %d corpus files replayed\n", argv[0], n);
    return 0;
}
