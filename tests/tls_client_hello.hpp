// The ClientHello an OpenSSL TLS 1.3 client sends with an external PSK
// (the first record's body, a handshake message with its 4-byte header):
// for the binder check's unit test and the fuzzer's seeds. Header-only so
// that both the GCC test build and the clang fuzz build take it as is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/ssl.h>

namespace nvmfd::testing {

struct PskOffer {
    std::string identity;
    std::vector<uint8_t> psk;  // 48 bytes: TLS_AES_256_GCM_SHA384, else TLS_AES_128_GCM_SHA256
};

namespace detail {
inline int use_psk(SSL* ssl, const EVP_MD*, const unsigned char** id, size_t* idlen, SSL_SESSION** sess) {
    auto* o = static_cast<PskOffer*>(SSL_get_app_data(ssl));
    static const unsigned char kAes128[] = {0x13, 0x01}, kAes256[] = {0x13, 0x02};
    SSL_SESSION* s = SSL_SESSION_new();
    SSL_SESSION_set1_master_key(s, o->psk.data(), o->psk.size());
    SSL_SESSION_set_cipher(s, SSL_CIPHER_find(ssl, o->psk.size() == 48 ? kAes256 : kAes128));
    SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION);
    *id = reinterpret_cast<const unsigned char*>(o->identity.data());
    *idlen = o->identity.size();
    *sess = s;
    return 1;
}
}  // namespace detail

// Empty if OpenSSL did not write one handshake record.
inline std::vector<uint8_t> client_hello(PskOffer& o) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx, o.psk.size() == 48 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256");
    SSL* ssl = SSL_new(ctx);
    SSL_set_app_data(ssl, &o);
    SSL_set_psk_use_session_callback(ssl, detail::use_psk);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    std::vector<uint8_t> msg;
    if (SSL_connect(ssl) == -1) {  // it waits for the ServerHello
        char* data = nullptr;
        long n = BIO_get_mem_data(out, &data);
        if (n > 5 && uint8_t(data[0]) == 0x16) msg.assign(data + 5, data + n);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return msg;
}

}  // namespace nvmfd::testing
