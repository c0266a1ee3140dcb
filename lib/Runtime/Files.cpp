//===- Files.cpp - Reading untrusted input files --------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

bool tptt::runtime::isRegularFile(const std::string &path, std::string &error) {
  struct stat status;
  if (stat(path.c_str(), &status) != 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  if (S_ISDIR(status.st_mode)) {
    error = path + ": is a directory, not a file";
    return false;
  }
  if (!S_ISREG(status.st_mode)) {
    error = path + ": not a regular file (a device, FIFO or socket)";
    return false;
  }
  return true;
}

std::optional<std::string>
tptt::runtime::readRegularFile(const std::string &path, uint64_t maxBytes,
                               std::string &error) {
  if (!isRegularFile(path, error))
    return std::nullopt;
  // O_NONBLOCK: a FIFO put in place after the check does not block open().
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct stat status;
  if (fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    ::close(fd);
    error = path + ": not a regular file";
    return std::nullopt;
  }
  if (static_cast<uint64_t>(status.st_size) > maxBytes) {
    ::close(fd);
    error = path + ": " + std::to_string(status.st_size) +
            " bytes, more than the " + std::to_string(maxBytes) +
            " such a file may have";
    return std::nullopt;
  }
  std::string text(static_cast<size_t>(status.st_size), '\0');
  size_t done = 0;
  while (done < text.size()) {
    ssize_t got = ::read(fd, text.data() + done, text.size() - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    done += static_cast<size_t>(got);
  }
  ::close(fd);
  if (done != text.size()) {
    error = path + ": cannot read (it changed while being read?)";
    return std::nullopt;
  }
  return text;
}

bool tptt::runtime::writeFileSynced(const std::string &path,
                                    const std::string &bytes,
                                    std::string &error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  auto fail = [&] {
    error = path + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(path.c_str());
    return false;
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0)
      return fail();
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0)
    return fail();
  if (::close(fd) != 0) {
    error = path + ": " + std::strerror(errno);
    ::unlink(path.c_str());
    return false;
  }
  return true;
}

bool tptt::runtime::replaceFileAtomically(const std::string &path,
                                          const std::string &bytes,
                                          std::string &error) {
  std::string temporary = path + ".tmp";
  if (!writeFileSynced(temporary, bytes, error))
    return false;
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    error = path + ": " + std::strerror(errno);
    ::unlink(temporary.c_str());
    return false;
  }
  return true;
}
