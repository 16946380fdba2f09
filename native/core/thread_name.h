// NameThisThread: names the calling native thread, so `top -H` and `ps -L` tell the server's threads apart.
#pragma once

#if defined(__linux__)
#include <pthread.h>
#endif

namespace ortserve {

// Linux only (elsewhere a no-op); at most 15 characters are kept.
inline void NameThisThread(const char* name) {
#if defined(__linux__)
  pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

}  // namespace ortserve
