#include "remote/local_remote.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/fs.h"
#include "core/hash.h"
#include "remote/key.h"

namespace cfgsync {
namespace {

namespace fs = std::filesystem;

// What a metadata file records besides the attributes: the data file's size and mtime when it
// was written, to detect a metadata file that no longer describes its data file.
struct StoredMeta {
  FileMeta meta;
  std::uint64_t size = 0;
  FileTime data_mtime;
};

class LocalRemote final : public Remote {
 public:
  explicit LocalRemote(fs::path root) : root_(std::move(root)) {}

  std::string Describe() const override { return root_.string(); }

  Capabilities Caps() const override {
    return Capabilities{
        .md5_in_listing = true, .meta_in_listing = true, .versions = false, .user_metadata = true};
  }

  Status CheckRoot(const CallOptions& opts = {}) override {
    if (auto ok = CheckStop(opts.stop, "check root"); !ok) return ok;
    return RootStatus();
  }

  Status RootStatus() const {
    std::error_code ec;
    if (fs::is_directory(root_, ec) || fs::is_directory(root_.parent_path(), ec)) return {};
    return Fail(ErrorKind::kNoSuchBucket, "local remote " + root_.string() + ": parent folder " +
                                              root_.parent_path().string() + " does not exist");
  }

  Result<std::vector<ObjectInfo>> List(std::string_view prefix,
                                       const CallOptions& opts = {}) override {
    if (auto ok = CheckRoot(opts); !ok) return std::unexpected(ok.error().With("list"));
    std::vector<ObjectInfo> out;
    std::error_code ec;
    if (!fs::is_directory(root_, ec)) return out;
    fs::recursive_directory_iterator it(root_, fs::directory_options::none, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      std::string name = p.filename().string();
      if (it.depth() == 0 && name == kLocalMetaDir) {
        it.disable_recursion_pending();
        continue;
      }
      if (IsTempName(name) || !it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      if (auto ok = CheckStop(opts.stop, "list"); !ok) return std::unexpected(ok.error());
      std::string key = p.lexically_relative(root_).generic_string();
      if (!key.starts_with(prefix)) continue;
      auto info = Describe(key);
      if (!info) {
        if (info.error().kind == ErrorKind::kNotFound) continue;  // removed while listing
        return std::unexpected(info.error().With("list"));
      }
      out.push_back(std::move(*info));
    }
    if (ec) return Fail(ErrorKind::kIo, "list " + root_.string() + ": " + ec.message());
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.key < b.key; });
    return out;
  }

  /* A page at a time, in key order, one folder read at a time (a '/' after a folder's name
   * sorts it where its keys go): listing a large backup holds a page, not the backup. */
  Status ListPages(std::string_view prefix, const PageSink& on_page,
                   const CallOptions& opts = {}) override {
    if (auto ok = CheckStop(opts.stop, "list"); !ok) return ok;
    if (auto ok = CheckRoot(opts); !ok) return std::unexpected(ok.error().With("list"));
    std::vector<ObjectInfo> page;
    std::size_t pages = 0;
    std::error_code ec;
    if (fs::is_directory(root_, ec)) {
      if (auto ok = ListFolder("", prefix, page, pages, on_page); !ok) return ok;
    }
    if (page.empty() && pages > 0) return {};
    return on_page(std::move(page));
  }

  Result<ObjectInfo> Stat(std::string_view key, const CallOptions& opts = {}) override {
    if (auto ok = CheckStop(opts.stop, "stat"); !ok) return std::unexpected(ok.error());
    if (auto ok = Validate("stat", key); !ok) return std::unexpected(ok.error());
    auto info = Describe(key);
    if (!info) return std::unexpected(info.error().With("stat " + std::string(key)));
    return info;
  }

  Result<ObjectInfo> Get(std::string_view key, ByteSink& sink,
                         const CallOptions& opts = {}) override {
    std::string ctx = "get " + std::string(key);
    if (!opts.version_id.empty())
      return Fail(ErrorKind::kUnsupported, ctx + ": " + Describe() + " keeps no versions");
    if (auto ok = CheckStop(opts.stop, ctx); !ok) return std::unexpected(ok.error());
    if (auto ok = Validate("get", key); !ok) return std::unexpected(ok.error());
    auto info = Describe(key);
    if (!info) return std::unexpected(info.error().With(ctx));
    auto fd = OpenForRead(DataPath(key));
    if (!fd) return std::unexpected(fd.error().With(ctx));
    FileVersion whole;
    whole.size = info->size;
    FdSource src(fd->get(), whole);
    auto md5 = CopySource(src, sink, opts.stop);
    if (!md5 && md5.error().kind != ErrorKind::kChanged)
      return std::unexpected(md5.error().With(ctx));
    if (!md5 || *md5 != info->etag)
      return Fail(ErrorKind::kCorrupt, ctx + ": content changed while reading");
    return info;
  }

  Result<ObjectInfo> Put(std::string_view key, const ByteSource& src, const FileMeta& meta,
                         const CallOptions& opts = {}) override {
    std::string ctx = "put " + std::string(key);
    if (auto ok = CheckStop(opts.stop, ctx); !ok) return std::unexpected(ok.error());
    if (auto ok = Validate("put", key); !ok) return std::unexpected(ok.error());
    auto ok = PutData(src, key, meta, opts.stop);
    if (!ok) return std::unexpected(ok.error().With(ctx));
    return *ok;
  }

  Status Remove(std::span<const std::string> keys, const CallOptions& opts = {}) override {
    if (auto ok = CheckRoot(opts); !ok) return std::unexpected(ok.error().With("remove"));
    for (const auto& key : keys) {
      if (auto ok = Validate("remove", key); !ok) return ok;
      for (const fs::path& p : {MetaPath(key), DataPath(key)}) {
        // A key whose path runs through a file (ENOTDIR) or names a folder (EISDIR) is not a
        // stored object: missing, and missing keys are not an error.
        if (::unlink(p.c_str()) != 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR) {
          return std::unexpected(ErrnoError("remove", p));
        }
        PruneEmptyParents(p);
      }
    }
    return {};
  }

 private:
  fs::path DataPath(std::string_view key) const { return root_ / fs::path(std::string(key)); }
  fs::path MetaPath(std::string_view key) const {
    return root_ / kLocalMetaDir / fs::path(std::string(key) + ".json");
  }

  Status Validate(std::string_view op, std::string_view key) const {
    if (auto ok = CheckSafeKey(key, true); !ok) return std::unexpected(ok.error().With(op));
    if (key == kLocalMetaDir || key.starts_with(std::string(kLocalMetaDir) + "/")) {
      return Fail(ErrorKind::kInvalidArgument, std::string(op) + " " + std::string(key) +
                                                   ": key in the reserved metadata folder");
    }
    if (auto ok = RootStatus(); !ok) return std::unexpected(ok.error().With(op));
    return {};
  }

  static constexpr std::size_t kPageSize = 1000;

  // Lists folder `rel` ("" for the root) into `page`, handing each full page to `on_page`.
  Status ListFolder(const std::string& rel, std::string_view prefix, std::vector<ObjectInfo>& page,
                    std::size_t& pages, const PageSink& on_page) {
    std::vector<std::pair<std::string, bool>> entries;  // (key, '/' after a folder's), folder
    std::error_code ec;
    for (fs::directory_iterator it(rel.empty() ? root_ : DataPath(rel), ec), end; !ec && it != end;
         it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (rel.empty() && name == kLocalMetaDir) continue;
      std::string key = rel.empty() ? name : rel + "/" + name;
      if (it->is_symlink(ec)) continue;
      if (it->is_directory(ec)) {
        entries.emplace_back(key + "/", true);
      } else if (!IsTempName(name) && it->is_regular_file(ec)) {
        entries.emplace_back(std::move(key), false);
      }
    }
    if (ec) return Fail(ErrorKind::kIo, "list " + root_.string() + ": " + ec.message());
    std::sort(entries.begin(), entries.end());
    for (auto& [key, dir] : entries) {
      if (dir) {
        key.pop_back();
        if (auto ok = ListFolder(key, prefix, page, pages, on_page); !ok) return ok;
        continue;
      }
      if (!key.starts_with(prefix)) continue;
      auto info = Describe(key);
      if (!info) {
        if (info.error().kind == ErrorKind::kNotFound) continue;  // removed while listing
        return std::unexpected(info.error().With("list"));
      }
      page.push_back(std::move(*info));
      if (page.size() < kPageSize) continue;
      ++pages;
      if (auto ok = on_page(std::exchange(page, {})); !ok) return ok;
    }
    return {};
  }

  // Info for one stored key, using its metadata file only when it still matches the data file.
  Result<ObjectInfo> Describe(std::string_view key) const {
    fs::path data = DataPath(key);
    struct stat st;
    if (::lstat(data.c_str(), &st) != 0) return std::unexpected(ErrnoError("stat", data));
    if (!S_ISREG(st.st_mode)) return Fail(ErrorKind::kNotFound, "not a regular file");
    FileTime mt{st.st_mtim.tv_sec, static_cast<std::uint32_t>(st.st_mtim.tv_nsec)};
    ObjectInfo info{std::string(key), static_cast<std::uint64_t>(st.st_size), "", ToWall(mt), {}};
    auto stored = ReadMeta(key);
    if (stored && stored->size == info.size && stored->data_mtime == mt && stored->meta.md5_hex) {
      info.meta = stored->meta;
      info.etag = *stored->meta.md5_hex;
      return info;
    }
    auto fd = OpenForRead(data);
    if (!fd) return std::unexpected(fd.error());
    auto digest = DigestRange(fd->get(), 0, info.size, false);
    if (!digest) return std::unexpected(digest.error());
    info.etag = digest->md5_hex;
    info.meta = FileMeta{mt, st.st_mode, st.st_uid, st.st_gid, digest->md5_hex};
    return info;
  }

  std::optional<StoredMeta> ReadMeta(std::string_view key) const {
    std::ifstream in(MetaPath(key));
    if (!in) return std::nullopt;
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    std::map<std::string, std::string> user;
    for (auto& [k, v] : j["attrs"].items()) {
      if (v.is_string()) user[k] = v.get<std::string>();
    }
    StoredMeta s;
    std::vector<IgnoredMeta> ignored;
    s.meta = DecodeMeta(user, &ignored);
    WarnIgnoredMeta(key, ignored);
    if (j["md5"].is_string()) s.meta.md5_hex = j["md5"].get<std::string>();
    if (!j["size"].is_number_unsigned() || !j["data_mtime"].is_string()) return std::nullopt;
    s.size = j["size"].get<std::uint64_t>();
    auto dm = ParseMtime(j["data_mtime"].get<std::string>());
    if (!dm) return std::nullopt;
    s.data_mtime = *dm;
    return s;
  }

  // Writes `src` into a new file `tmp` (mode 0600), fsynced; returns the content MD5.
  static Result<std::string> WriteTemp(const ByteSource& src, const fs::path& tmp,
                                       const std::stop_token& stop) {
    UniqueFd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out) return std::unexpected(ErrnoError("create", tmp));
    FdSink sink(out.get());
    auto md5 = CopySource(src, sink, stop);
    if (md5 && ::fsync(out.get()) != 0) return std::unexpected(ErrnoError("fsync", tmp));
    return md5;
  }

  Result<ObjectInfo> PutData(const ByteSource& src, std::string_view key, const FileMeta& meta,
                             const std::stop_token& stop) {
    fs::path data = DataPath(key);
    if (auto ok = MakeDirs(data.parent_path()); !ok) return std::unexpected(ok.error());
    fs::path tmp = TempPathFor(data);
    auto md5 = WriteTemp(src, tmp, stop);
    Status same = md5 ? src.CheckUnchanged() : Status{};
    if (!md5 || !same) {
      ::unlink(tmp.c_str());
      return std::unexpected(md5 ? same.error() : md5.error());
    }
    /* Without a stored mtime the data file keeps its source's, when the source is a file. */
    const auto* file = dynamic_cast<const FdSource*>(&src);
    FileTime data_mtime = meta.mtime.value_or(file ? file->version().mtime : NowFileTime());
    auto done = CommitData(tmp, data, data_mtime);
    if (!done) return std::unexpected(done.error());
    FileMeta stored = meta;
    stored.md5_hex = *md5;
    if (auto ok = WriteMeta(key, stored, src.Size(), data_mtime); !ok)
      return std::unexpected(ok.error());
    return ObjectInfo{std::string(key), src.Size(), *md5, ToWall(data_mtime), stored};
  }

  static FileTime NowFileTime() {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    return FileTime{ns / 1'000'000'000, static_cast<std::uint32_t>(ns % 1'000'000'000)};
  }

  static Status CommitData(const fs::path& tmp, const fs::path& data, FileTime mtime) {
    UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
    FileMeta times;
    times.mtime = mtime;
    Status ok =
        fd ? ApplyMeta(fd.get(), times, false, data) : std::unexpected(ErrnoError("open", tmp));
    if (ok && ::rename(tmp.c_str(), data.c_str()) != 0)
      ok = std::unexpected(ErrnoError("rename", data));
    if (!ok) {
      ::unlink(tmp.c_str());
      return ok;
    }
    return FsyncDir(data.parent_path());
  }

  Status WriteMeta(std::string_view key, const FileMeta& meta, std::uint64_t size,
                   FileTime data_mtime) {
    nlohmann::json j;
    FileMeta attrs = meta;
    attrs.md5_hex.reset();
    j["attrs"] = EncodeMeta(attrs);
    j["md5"] = meta.md5_hex.value_or("");
    j["size"] = size;
    j["data_mtime"] = FormatMtime(data_mtime);
    fs::path path = MetaPath(key);
    if (auto ok = MakeDirs(path.parent_path()); !ok) return ok;
    fs::path tmp = TempPathFor(path);
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return std::unexpected(ErrnoError("create", tmp));
    Status ok = WriteAll(fd.get(), j.dump());
    if (ok && ::fsync(fd.get()) != 0) ok = std::unexpected(ErrnoError("fsync", tmp));
    if (ok && ::rename(tmp.c_str(), path.c_str()) != 0)
      ok = std::unexpected(ErrnoError("rename", path));
    if (!ok) {
      ::unlink(tmp.c_str());
      return ok;
    }
    return FsyncDir(path.parent_path());
  }

  // Removes folders left empty by a deletion, up to (not including) the root or the meta folder.
  void PruneEmptyParents(fs::path p) const {
    fs::path stop_meta = root_ / kLocalMetaDir;
    for (p = p.parent_path();
         p != root_ && p != stop_meta && p.string().size() > root_.string().size();
         p = p.parent_path()) {
      if (::rmdir(p.c_str()) != 0) break;
    }
  }

  fs::path root_;
};

}  // namespace

std::unique_ptr<Remote> MakeLocalRemote(const std::filesystem::path& root) {
  /* absolute() without an error_code throws when the working folder is gone; the path as
   * given then still names the remote, and its operations report what fails. */
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(root, ec);
  p = (ec ? root : p).lexically_normal();
  if (p.filename().empty() && p.has_parent_path() && p != p.root_path()) p = p.parent_path();
  return std::make_unique<LocalRemote>(p);
}

}  // namespace cfgsync
