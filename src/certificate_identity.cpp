#include "certificate_identity.hpp"

#include <cstdio>
#include <memory>

#include "fedbiomed/errors.hpp"
#include "topics.hpp"
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace fedbiomed::detail {
namespace {

struct FileClose {
    void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};
struct X509Free {
    void operator()(X509* cert) const noexcept { X509_free(cert); }
};
struct BioFree {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};

[[noreturn]] void fail(const std::string& text) {
    throw MessagingError(ErrorNumbers::FB101, text);
}

std::string time_text(const ASN1_TIME* time) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
    if (!bio || ASN1_TIME_print(bio.get(), time) != 1) {
        return "?";
    }
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return size > 0 && data != nullptr ? std::string(data, static_cast<std::size_t>(size)) : std::string("?");
}

std::string attribute_value(X509* cert, int nid) {
    const X509_NAME* subject = X509_get_subject_name(cert);
    const int index = X509_NAME_get_index_by_NID(subject, nid, -1);
    if (index < 0) {
        return {};
    }
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, value);
    if (length < 0 || utf8 == nullptr) {
        return {};
    }
    std::string text(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
    OPENSSL_free(utf8);
    return text;
}

}  // namespace

CertificateFacts read_certificate(const std::string& cert_file, const std::string& attribute) {
    const int nid = attribute.empty() ? NID_commonName : OBJ_txt2nid(attribute.c_str());
    if (nid == NID_undef) {
        fail("tls.identity_attribute '" + printable(attribute) +
             "' is not a certificate subject attribute (e.g. CN, UID, emailAddress)");
    }
    std::unique_ptr<std::FILE, FileClose> file(std::fopen(cert_file.c_str(), "r"));
    if (!file) {
        fail("cannot read the client certificate " + cert_file + " (tls.cert_file)");
    }
    std::unique_ptr<X509, X509Free> cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
    if (!cert) {
        ERR_clear_error();
        fail("the file " + cert_file + " (tls.cert_file) holds no PEM certificate");
    }
    CertificateFacts facts;
    facts.identity = attribute_value(cert.get(), nid);
    facts.expired = X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0;
    facts.not_yet = X509_cmp_current_time(X509_get0_notBefore(cert.get())) > 0;
    facts.not_after = time_text(X509_get0_notAfter(cert.get()));
    facts.not_before = time_text(X509_get0_notBefore(cert.get()));
    return facts;
}

void check_client_certificate(const std::string& cert_file, const std::string& attribute,
                              const std::string& id) {
    const CertificateFacts facts = read_certificate(cert_file, attribute);
    if (facts.expired) {
        fail("the client certificate " + cert_file + " expired on " + facts.not_after +
             ": the broker would refuse it; renew it");
    }
    if (facts.not_yet) {
        fail("the client certificate " + cert_file + " is not valid before " + facts.not_before +
             " (is this machine's clock right?)");
    }
    if (attribute.empty() || facts.identity == id) {
        return;
    }
    const std::string shown = facts.identity.empty() ? std::string("no ") + attribute
                                                     : attribute + " '" + printable(facts.identity) + "'";
    fail("the client certificate " + cert_file + " has " + shown + " but the component id is '" +
         printable(id) +
         "': a broker that takes the certificate's identity as the user name (Mosquitto's "
         "use_identity_as_username) would confine this component to another component's topics, and it "
         "would receive nothing. Use the certificate issued for '" +
         printable(id) +
         "', or set tls.identity_attribute to \"\" when the broker maps identities otherwise");
}

}  // namespace fedbiomed::detail
