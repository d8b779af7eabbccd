// The transport's PSK binder check (plugins/transport_tcp/tls_binder.*)
// against ClientHellos OpenSSL's own client writes: the binder it finds is
// the one OpenSSL computed for that PSK, and no other PSK matches it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "plugins/transport_tcp/tls_binder.hpp"

using namespace nvmfd::plugins::tcp;

namespace {

struct Offer {
    std::string identity;
    std::vector<uint8_t> psk;
};

int use_psk(SSL* ssl, const EVP_MD*, const unsigned char** id, size_t* idlen, SSL_SESSION** sess) {
    auto* o = static_cast<Offer*>(SSL_get_app_data(ssl));
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

// The ClientHello handshake message an OpenSSL TLS 1.3 client sends with
// this PSK (the first record's body).
std::vector<uint8_t> client_hello(Offer& o) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx, o.psk.size() == 48 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256");
    SSL* ssl = SSL_new(ctx);
    SSL_set_app_data(ssl, &o);
    SSL_set_psk_use_session_callback(ssl, use_psk);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    CHECK(SSL_connect(ssl) == -1);  // waits for the ServerHello
    char* data = nullptr;
    long n = BIO_get_mem_data(out, &data);
    REQUIRE(n > 5);
    REQUIRE(uint8_t(data[0]) == 0x16);  // a handshake record
    std::vector<uint8_t> msg(data + 5, data + n);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return msg;
}

}  // namespace

TEST_CASE("tls binder: the binder OpenSSL's client sent is found and matches only its PSK") {
    for (size_t len : {32ul, 48ul}) {
        CAPTURE(len);
        Offer o{"NVMe0R0" + std::to_string(len == 48 ? 2 : 1) + " nqn.host nqn.sub", std::vector<uint8_t>(len, 0x5a)};
        auto ch = client_hello(o);
        auto b = find_psk_binder(ch, o.identity);
        REQUIRE(b);
        CHECK(b->binder.size() == len);
        CHECK(binder_matches(o.psk, len == 48, *b));
        auto other = o.psk;
        other[7] ^= 1;
        CHECK_FALSE(binder_matches(other, len == 48, *b));
        CHECK_FALSE(binder_matches(o.psk, len != 48, *b));  // the other hash
        CHECK_FALSE(find_psk_binder(ch, "NVMe0R01 nqn.other nqn.sub"));
        // A cut or padded message is no ClientHello.
        CHECK_FALSE(find_psk_binder(std::span(ch).first(ch.size() - 1), o.identity));
        auto longer = ch;
        longer.push_back(0);
        CHECK_FALSE(find_psk_binder(longer, o.identity));
    }
}
