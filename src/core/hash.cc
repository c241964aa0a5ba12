#include "core/hash.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace cfgsync {
namespace {

// OpenSSL only fails here on allocation failure or a broken installation; neither is recoverable.
void Check(int ok, const char* what) {
  if (ok != 1) {
    (void)std::fprintf(stderr, "cfgsync: OpenSSL %s failed\n", what);
    std::abort();
  }
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Number of '=' padding characters when `b64` is well-formed standard base64, else -1.
int Base64Padding(std::string_view b64) {
  if (b64.size() % 4 != 0) return -1;
  std::size_t pad = 0;
  while (pad < 2 && pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
  for (std::size_t i = 0; i < b64.size() - pad; ++i) {
    if (!IsBase64Char(b64[i])) return -1;
  }
  return static_cast<int>(pad);
}

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Check(EVP_Digest(data.data(), data.size(), out, &len, md, nullptr), "EVP_Digest");
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char HexDigit(unsigned nibble, bool upper) {
  static constexpr char kLower[] = "0123456789abcdef";
  static constexpr char kUpper[] = "0123456789ABCDEF";
  return (upper ? kUpper : kLower)[nibble & 0xF];
}

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(HexDigit(c >> 4));
    out.push_back(HexDigit(c & 0xF));
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexDigitValue(hex[i]);
    int lo = HexDigitValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(bytes),
                            static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view b64) {
  int pad = Base64Padding(b64);
  if (pad < 0) return std::nullopt;
  if (b64.empty()) return std::string();
  std::string out(b64.size() / 4 * 3, '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(b64),
                            static_cast<int>(b64.size()));
  if (len < pad) return std::nullopt;
  out.resize(static_cast<std::size_t>(len - pad));
  return out;
}

std::string Sha256(std::string_view data) { return Digest(EVP_sha256(), data); }

std::string Sha256Hex(std::string_view data) { return HexEncode(Sha256(data)); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  static const unsigned char kNoKey = 0;
  const unsigned char* key_bytes = key.empty() ? &kNoKey : Bytes(key);
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  unsigned char* mac = EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key_bytes, key.size(),
                                 Bytes(data), data.size(), out, sizeof(out), &len);
  Check(mac != nullptr ? 1 : 0, "HMAC-SHA256");
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Md5(std::string_view data) { return Digest(EVP_md5(), data); }

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Hasher::Hasher(Algo algo) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  Check(impl_->ctx != nullptr ? 1 : 0, "EVP_MD_CTX_new");
  const EVP_MD* md = algo == Algo::kMd5 ? EVP_md5() : EVP_sha256();
  Check(EVP_DigestInit_ex(impl_->ctx, md, nullptr), "EVP_DigestInit_ex");
}

Hasher::~Hasher() { EVP_MD_CTX_free(impl_->ctx); }

void Hasher::Update(std::string_view data) {
  Check(EVP_DigestUpdate(impl_->ctx, data.data(), data.size()), "EVP_DigestUpdate");
}

std::string Hasher::Final() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  Check(EVP_DigestFinal_ex(impl_->ctx, out, &len), "EVP_DigestFinal_ex");
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace cfgsync
