// Digests (from OpenSSL) and the byte encodings they are shown in (hex, base64). Pure
// functions, safe from any thread; a Hasher belongs to one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cfgsync {

// The value of one hex digit (0-9, a-f, A-F), or -1 for any other character.
int HexDigitValue(char c);
// The hex digit for `nibble` (0-15; higher bits are ignored), lower-case unless `upper`.
char HexDigit(unsigned nibble, bool upper = false);
// Lower-case hex of arbitrary bytes.
std::string HexEncode(std::string_view bytes);
// Decodes lower- or upper-case hex; nullopt on odd length or a non-hex digit.
std::optional<std::string> HexDecode(std::string_view hex);
// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);
// Decodes standard base64; nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view b64);

// Raw 32-byte SHA-256 of `data`.
std::string Sha256(std::string_view data);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);
// Raw 16-byte MD5 of `data`.
std::string Md5(std::string_view data);

// Incremental digest for streaming over files. Algorithms: MD5 and SHA-256.
class Hasher {
 public:
  enum class Algo { kMd5, kSha256 };
  explicit Hasher(Algo algo);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  // Adds bytes to the digest.
  void Update(std::string_view data);
  // Returns the raw digest; the hasher must not be used afterwards.
  std::string Final();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cfgsync
