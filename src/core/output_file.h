// A file the program writes (--requests-out, --out, --html, calibration
// and interval files). Every failure, at the open, at a write or at the
// close (a full disk often shows only when the buffer is flushed), is an
// InputError "FILE: cannot write: REASON" (the CLI's exit 2), never a
// silent short file nor an exception from the library beneath.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"

namespace roofplan {

class OutputFile {
 public:
  // Creates or truncates `path`; throws InputError when it cannot.
  explicit OutputFile(std::string path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "w");
    if (!file_) Fail("cannot open for writing", errno);
  }
  // Closes without a word: call Close() to hear about a failed write.
  ~OutputFile() {
    if (file_) std::fclose(file_);
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void Write(std::string_view text) {
    if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) Fail("cannot write", errno);
  }

  // Flushes and closes; throws InputError when anything written is lost.
  void Close() {
    if (!file_) return;
    std::FILE* file = file_;
    file_ = nullptr;
    const bool flushed = std::fflush(file) == 0 && !std::ferror(file);
    const int error = errno;
    if (std::fclose(file) != 0 || !flushed) Fail("cannot write", flushed ? errno : error);
  }

  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void Fail(const char* what, int error) const {
    throw InputError(path_, "", std::string(what) + ": " + (error ? std::strerror(error) : "write failed"));
  }

  std::string path_;
  std::FILE* file_ = nullptr;
};

// Writes `text` to `path` in one go: the file's whole contents.
inline void WriteOutputFile(const std::string& path, std::string_view text) {
  OutputFile file(path);
  file.Write(text);
  file.Close();
}

}  // namespace roofplan
