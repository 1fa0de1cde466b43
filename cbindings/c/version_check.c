/*
 * The header's version macros against the library's trackstats_version(),
 * linked against the build tree's shared library (make test-c-abi): exits
 * non-zero when they disagree, so a header from one version cannot pass as
 * another's.
 */
#include <stdio.h>
#include <string.h>

#include "trackstats.h"

int main(void) {
    char macros[64];
    snprintf(macros, sizeof macros, "%d.%d.%d", (int)TRACKSTATS_VERSION_MAJOR,
             (int)TRACKSTATS_VERSION_MINOR, (int)TRACKSTATS_VERSION_PATCH);
    const char *library = trackstats_version();
    if (strcmp(macros, library) != 0) {
        fprintf(stderr, "version check: header macros say %s, trackstats_version() %s\n", macros, library);
        return 1;
    }
    printf("version check: header macros and trackstats_version() agree: %s\n", library);
    return 0;
}
