#include "apps/process_hygiene.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace scrutin::apps {

core::Status ApplyProcessHygiene() {
  const rlimit no_core{0, 0};
  if (::setrlimit(RLIMIT_CORE, &no_core) != 0) {
    return core::Fail(std::string("cannot disable core dumps (setrlimit RLIMIT_CORE 0): ") +
                      std::strerror(errno));
  }
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return core::Fail(std::string("cannot make the process non-dumpable (PR_SET_DUMPABLE 0): ") +
                      std::strerror(errno));
  }
  return {};
}

}  // namespace scrutin::apps
