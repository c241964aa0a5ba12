#include "core/file_meta.h"

namespace cfgsync {

WallTime ToWall(FileTime t) {
  return WallTime{} + std::chrono::seconds(t.sec) + std::chrono::nanoseconds(t.nsec);
}

FileMeta MetaFromStat(const struct stat& st) {
  FileMeta m;
  m.mtime = FileTime{st.st_mtim.tv_sec, static_cast<std::uint32_t>(st.st_mtim.tv_nsec)};
  m.mode = st.st_mode;
  m.uid = st.st_uid;
  m.gid = st.st_gid;
  return m;
}

}  // namespace cfgsync
