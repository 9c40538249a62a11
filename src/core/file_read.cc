#include "core/file_read.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include <zlib.h>

#include "core/error.h"

namespace roofplan {

namespace fs = std::filesystem;

namespace {

const char* TypeName(fs::file_type type) {
  switch (type) {
    case fs::file_type::directory: return "a directory";
    case fs::file_type::character: return "a character device";
    case fs::file_type::block: return "a block device";
    case fs::file_type::fifo: return "a FIFO (named pipe)";
    case fs::file_type::socket: return "a socket";
    default: return "not a regular file";
  }
}

std::string Size(uintmax_t bytes) {
  if (bytes >= (uintmax_t{1} << 30) && bytes % (uintmax_t{1} << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (uintmax_t{1} << 20) && bytes % (uintmax_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + "-byte";
}

[[noreturn]] void TooLarge(const std::string& label, uintmax_t bytes, uintmax_t max_bytes,
                           const std::string& kind) {
  throw InputError(label, "", (bytes > max_bytes ? std::to_string(bytes) + " bytes, larger" : "larger") +
                                  std::string(" than the ") + Size(max_bytes) + " limit for " + kind);
}

// The gzip stream (or concatenated members) in `packed`, inflated to at
// most `max_bytes`: a small file that would inflate past the limit fails
// as too large instead of exhausting memory.
std::string Gunzip(const std::string& packed, uintmax_t max_bytes, const std::string& label,
                   const std::string& kind) {
  z_stream z{};
  // 15 + 32: a zlib or gzip header, detected.
  if (inflateInit2(&z, 15 + 32) != Z_OK) throw InputError(label, "", "cannot start gzip decompression");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  std::string text;
  std::string chunk(1 << 16, '\0');
  int rc = Z_OK;
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(chunk.data());
    z.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&z, Z_NO_FLUSH);
    const size_t produced = chunk.size() - z.avail_out;
    if (text.size() + produced > max_bytes) {
      inflateEnd(&z);
      throw InputError(label, "", "gzip data inflating past the " + Size(max_bytes) + " limit for " + kind);
    }
    text.append(chunk.data(), produced);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // another gzip member follows
      continue;
    }
    if (rc != Z_OK) break;
  }
  const std::string why = z.msg ? z.msg : "truncated";
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw InputError(label, "", "corrupt gzip data: " + why);
  return text;
}

}  // namespace

bool IsGzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

uintmax_t CheckInputFile(const std::string& path, uintmax_t max_bytes, const std::string& kind,
                         const std::string& label_in) {
  const std::string& label = label_in.empty() ? path : label_in;
  if (path.empty()) throw InputError(label, "", "empty path, expected " + kind);
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    const std::string reason = ec ? ec.message() : std::strerror(ENOENT);
    throw InputError(label, "", "cannot open: " + reason);
  }
  if (!fs::is_regular_file(status)) {
    const std::string type = TypeName(status.type());
    throw InputError(label, "", (type.starts_with("a ") ? "is " : "") + type + ", expected " + kind);
  }
  const uintmax_t bytes = fs::file_size(path, ec);
  if (ec) throw InputError(label, "", "cannot read its size: " + ec.message());
  if (bytes > max_bytes) TooLarge(label, bytes, max_bytes, kind);
  return bytes;
}

std::string ReadInputFile(const std::string& path, uintmax_t max_bytes, const std::string& kind,
                          const std::string& label_in) {
  const std::string& label = label_in.empty() ? path : label_in;
  const uintmax_t bytes = CheckInputFile(path, max_bytes, kind, label);
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(label, "", std::string("cannot open: ") + std::strerror(errno ? errno : EACCES));
  std::string text;
  text.resize(static_cast<size_t>(bytes));
  in.read(text.data(), static_cast<std::streamsize>(bytes));
  text.resize(static_cast<size_t>(in.gcount()));
  // The size was taken before reading: a file that grew since is read no
  // further than the limit.
  std::string more(4096, '\0');
  while (in.read(more.data(), static_cast<std::streamsize>(more.size())) || in.gcount() > 0) {
    if (text.size() + static_cast<size_t>(in.gcount()) > max_bytes) TooLarge(label, 0, max_bytes, kind);
    text.append(more.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw InputError(label, "", "read error");
  if (IsGzip(text)) {
    // uInt counts: a packed file over 4 GiB is refused by every limit here.
    if (text.size() > UINT32_MAX) TooLarge(label, text.size(), UINT32_MAX, kind);
    return Gunzip(text, max_bytes, label, kind);
  }
  return text;
}

}  // namespace roofplan
