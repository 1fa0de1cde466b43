/*
 * A test-only LD_PRELOAD shim for Janus (make test-janus): Janus 1.1 never
 * gathers ICE candidates on a loopback interface (ice.c skips every address
 * whose interface has IFF_LOOPBACK). This getifaddrs() clears that flag, so
 * the test's `ice_enforce_list = "127.0.0.1"` can make 127.0.0.1 Janus's
 * only candidate and no media of the test leaves the machine's loopback.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stddef.h>

typedef int getifaddrs_fn(struct ifaddrs **);

int getifaddrs(struct ifaddrs **ifap) {
    /* Looked up on every call: Janus asks once per handle, and nothing is
     * shared between threads this way. */
    getifaddrs_fn *real;
    *(void **)&real = dlsym(RTLD_NEXT, "getifaddrs");
    if (real == NULL) {
        errno = ENOSYS;
        return -1;
    }
    int rc = real(ifap);
    if (rc == 0) {
        for (struct ifaddrs *ifa = *ifap; ifa != NULL; ifa = ifa->ifa_next)
            ifa->ifa_flags &= ~(unsigned int)IFF_LOOPBACK;
    }
    return rc;
}
