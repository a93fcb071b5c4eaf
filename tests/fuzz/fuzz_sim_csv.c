/*  fuzz_sim_csv.c — the simulator's scenario reader (tools/cli/sim_csv.c), roster and calls.
 *
 *  sim_load_roster/sim_load_calls read a path, so the input is written to a private file
 *  first (in TMPDIR, removed at exit).  The first byte picks the reader, the rest is the
 *  file.  Errors go to stderr as they do for users; run with -close_fd_mask=2 to keep the
 *  fuzzer's output readable (tools/fuzz.sh does).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char s_path[256];

static void s_cleanup(void)
{
    if (s_path[0])
        unlink(s_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!s_path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(s_path, sizeof s_path, "%s/codispatch-fuzz-csv-%ld.csv", tmp ? tmp : "/tmp",
                 (long)getpid());
        atexit(s_cleanup);
    }
    FILE *f = fopen(s_path, "wb");
    if (!f)
        abort();
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
        abort();
    fclose(f);
    if (data[0] & 1) {
        sim_call_t *calls = NULL;
        size_t n = 0;
        if (sim_load_calls(s_path, &calls, &n) == 0)
            sim_calls_free(calls, n);
    } else {
        sim_unit_t *units = NULL;
        size_t n = 0;
        if (sim_load_roster(s_path, &units, &n) == 0)
            free(units);
    }
    return 0;
}
