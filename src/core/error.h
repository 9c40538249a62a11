// Errors that reach the user. Every error says what was wrong and, for bad
// input, where: the file and the JSON path (or the command-line flag).
#pragma once

#include <stdexcept>
#include <string>

#include "core/text.h"

namespace roofplan {

// A problem with what the user asked for: bad input, a configuration that
// cannot work. The CLI prints what() and exits non-zero (2).
//
// The message is one printable line whatever the user wrote: control
// characters from echoed strings (a NUL in a JSON name, a newline in a
// flag) are escaped here, once for every message, so that none is cut
// short at a NUL or split over lines.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(EscapeControlCharacters(message)) {}
};

// A well-formed request for a deployment that cannot work: the model does
// not fit in memory, a request needs more KV cache than a replica has.
// The CLI exits 3 for it (2 for bad input), so scripts can tell the two.
class DoesNotFitError : public Error {
 public:
  using Error::Error;
};

// Bad input at a known place. what() reads "FILE: PATH: MESSAGE", e.g.
// "models/x.json: $.hidden_size: expected a positive integer, got \"abc\"".
class InputError : public Error {
 public:
  InputError(std::string file, std::string json_path, const std::string& message)
      : Error(Format(file, json_path, message)),
        file_(std::move(file)),
        json_path_(std::move(json_path)) {}

  const std::string& file() const { return file_; }
  const std::string& json_path() const { return json_path_; }

 private:
  static std::string Format(const std::string& file, const std::string& path,
                            const std::string& message) {
    std::string out = file.empty() ? std::string("<input>") : file;
    if (!path.empty()) out += ": " + path;
    return out + ": " + message;
  }
  std::string file_;
  std::string json_path_;
};

}  // namespace roofplan
