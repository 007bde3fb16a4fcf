/* OpenSSL, loaded when first used (issue 13: a download without TLS should
 * not pay for it). Linking libssl/libcrypto costs every nettool process
 * about 1.7 MiB of resident memory before main() runs (the dynamic linker
 * maps and relocates them; nzb_bench.sh measured it), whether it speaks
 * TLS or not. With NT_OSSL_LAZY (CMake; on by default on x86-64 Linux) the
 * library and the program are not linked with them: this header, included
 * first in every C file that calls OpenSSL (CMake's -include), renames each
 * function used to nt__ossl_<name>, a stub (ossl_lazy_x86_64.S) that jumps
 * through a pointer; the first call through any stub dlopen()s libssl (and
 * with it libcrypto) and fills every pointer (ossl_lazy.c). Prototypes and
 * macros are OpenSSL's own, only the names change.
 *
 * A function not in the list fails the link ("undefined reference to
 * SSL_foo": libnettool.so links with --no-undefined): add it to both lists
 * below. Private to the library and the nettool program. */
#ifndef NETTOOL_OSSL_LAZY_H
#define NETTOOL_OSSL_LAZY_H

/* Every function used, once. */
#define NT__OSSL_SYMS(X) \
  X(BIO_clear_flags) \
  X(BIO_get_data) \
  X(BIO_get_new_index) \
  X(BIO_meth_new) \
  X(BIO_meth_set_create) \
  X(BIO_meth_set_ctrl) \
  X(BIO_meth_set_destroy) \
  X(BIO_meth_set_read_ex) \
  X(BIO_meth_set_write_ex) \
  X(BIO_new) \
  X(BIO_set_data) \
  X(BIO_set_flags) \
  X(BIO_set_init) \
  X(CRYPTO_get_ex_new_index) \
  X(CRYPTO_memcmp) \
  X(ERR_clear_error) \
  X(ERR_get_error) \
  X(ERR_reason_error_string) \
  X(EVP_DigestFinal_ex) \
  X(EVP_DigestInit_ex) \
  X(EVP_DigestUpdate) \
  X(EVP_MD_CTX_free) \
  X(EVP_MD_CTX_new) \
  X(EVP_md5) \
  X(EVP_sha1) \
  X(EVP_sha256) \
  X(EVP_sha512) \
  X(OpenSSL_version) \
  X(SSL_CIPHER_get_name) \
  X(SSL_CTX_check_private_key) \
  X(SSL_CTX_ctrl) \
  X(SSL_CTX_free) \
  X(SSL_CTX_get_ex_data) \
  X(SSL_CTX_load_verify_dir) \
  X(SSL_CTX_load_verify_file) \
  X(SSL_CTX_new) \
  X(SSL_CTX_sess_set_new_cb) \
  X(SSL_CTX_set_alpn_protos) \
  X(SSL_CTX_set_alpn_select_cb) \
  X(SSL_CTX_set_cipher_list) \
  X(SSL_CTX_set_ciphersuites) \
  X(SSL_CTX_set_client_CA_list) \
  X(SSL_CTX_set_default_verify_paths) \
  X(SSL_CTX_set_ex_data) \
  X(SSL_CTX_set_num_tickets) \
  X(SSL_CTX_set_options) \
  X(SSL_CTX_set_session_id_context) \
  X(SSL_CTX_set_verify) \
  X(SSL_CTX_use_PrivateKey_file) \
  X(SSL_CTX_use_certificate_chain_file) \
  X(SSL_SESSION_dup) \
  X(SSL_SESSION_free) \
  X(SSL_SESSION_is_resumable) \
  X(SSL_clear_options) \
  X(SSL_ctrl) \
  X(SSL_do_handshake) \
  X(SSL_free) \
  X(SSL_get0_alpn_selected) \
  X(SSL_get0_param) \
  X(SSL_get1_session) \
  X(SSL_get_SSL_CTX) \
  X(SSL_get_current_cipher) \
  X(SSL_get_error) \
  X(SSL_get_ex_data) \
  X(SSL_get_servername) \
  X(SSL_get_shutdown) \
  X(SSL_get_verify_result) \
  X(SSL_get_version) \
  X(SSL_is_init_finished) \
  X(SSL_load_client_CA_file) \
  X(SSL_new) \
  X(SSL_pending) \
  X(SSL_read_ex) \
  X(SSL_renegotiate) \
  X(SSL_session_reused) \
  X(SSL_set1_host) \
  X(SSL_set_accept_state) \
  X(SSL_set_bio) \
  X(SSL_set_connect_state) \
  X(SSL_set_ex_data) \
  X(SSL_set_hostflags) \
  X(SSL_set_session) \
  X(SSL_set_shutdown) \
  X(SSL_shutdown) \
  X(SSL_version) \
  X(SSL_write_ex) \
  X(TLS_client_method) \
  X(TLS_server_method) \
  X(X509_VERIFY_PARAM_set1_ip_asc) \
  X(X509_verify_cert_error_string)

/* The same names, renamed (a macro cannot define macros). */
#define BIO_clear_flags nt__ossl_BIO_clear_flags
#define BIO_get_data nt__ossl_BIO_get_data
#define BIO_get_new_index nt__ossl_BIO_get_new_index
#define BIO_meth_new nt__ossl_BIO_meth_new
#define BIO_meth_set_create nt__ossl_BIO_meth_set_create
#define BIO_meth_set_ctrl nt__ossl_BIO_meth_set_ctrl
#define BIO_meth_set_destroy nt__ossl_BIO_meth_set_destroy
#define BIO_meth_set_read_ex nt__ossl_BIO_meth_set_read_ex
#define BIO_meth_set_write_ex nt__ossl_BIO_meth_set_write_ex
#define BIO_new nt__ossl_BIO_new
#define BIO_set_data nt__ossl_BIO_set_data
#define BIO_set_flags nt__ossl_BIO_set_flags
#define BIO_set_init nt__ossl_BIO_set_init
#define CRYPTO_get_ex_new_index nt__ossl_CRYPTO_get_ex_new_index
#define CRYPTO_memcmp nt__ossl_CRYPTO_memcmp
#define ERR_clear_error nt__ossl_ERR_clear_error
#define ERR_get_error nt__ossl_ERR_get_error
#define ERR_reason_error_string nt__ossl_ERR_reason_error_string
#define EVP_DigestFinal_ex nt__ossl_EVP_DigestFinal_ex
#define EVP_DigestInit_ex nt__ossl_EVP_DigestInit_ex
#define EVP_DigestUpdate nt__ossl_EVP_DigestUpdate
#define EVP_MD_CTX_free nt__ossl_EVP_MD_CTX_free
#define EVP_MD_CTX_new nt__ossl_EVP_MD_CTX_new
#define EVP_md5 nt__ossl_EVP_md5
#define EVP_sha1 nt__ossl_EVP_sha1
#define EVP_sha256 nt__ossl_EVP_sha256
#define EVP_sha512 nt__ossl_EVP_sha512
#define OpenSSL_version nt__ossl_OpenSSL_version
#define SSL_CIPHER_get_name nt__ossl_SSL_CIPHER_get_name
#define SSL_CTX_check_private_key nt__ossl_SSL_CTX_check_private_key
#define SSL_CTX_ctrl nt__ossl_SSL_CTX_ctrl
#define SSL_CTX_free nt__ossl_SSL_CTX_free
#define SSL_CTX_get_ex_data nt__ossl_SSL_CTX_get_ex_data
#define SSL_CTX_load_verify_dir nt__ossl_SSL_CTX_load_verify_dir
#define SSL_CTX_load_verify_file nt__ossl_SSL_CTX_load_verify_file
#define SSL_CTX_new nt__ossl_SSL_CTX_new
#define SSL_CTX_sess_set_new_cb nt__ossl_SSL_CTX_sess_set_new_cb
#define SSL_CTX_set_alpn_protos nt__ossl_SSL_CTX_set_alpn_protos
#define SSL_CTX_set_alpn_select_cb nt__ossl_SSL_CTX_set_alpn_select_cb
#define SSL_CTX_set_cipher_list nt__ossl_SSL_CTX_set_cipher_list
#define SSL_CTX_set_ciphersuites nt__ossl_SSL_CTX_set_ciphersuites
#define SSL_CTX_set_client_CA_list nt__ossl_SSL_CTX_set_client_CA_list
#define SSL_CTX_set_default_verify_paths nt__ossl_SSL_CTX_set_default_verify_paths
#define SSL_CTX_set_ex_data nt__ossl_SSL_CTX_set_ex_data
#define SSL_CTX_set_num_tickets nt__ossl_SSL_CTX_set_num_tickets
#define SSL_CTX_set_options nt__ossl_SSL_CTX_set_options
#define SSL_CTX_set_session_id_context nt__ossl_SSL_CTX_set_session_id_context
#define SSL_CTX_set_verify nt__ossl_SSL_CTX_set_verify
#define SSL_CTX_use_PrivateKey_file nt__ossl_SSL_CTX_use_PrivateKey_file
#define SSL_CTX_use_certificate_chain_file nt__ossl_SSL_CTX_use_certificate_chain_file
#define SSL_SESSION_dup nt__ossl_SSL_SESSION_dup
#define SSL_SESSION_free nt__ossl_SSL_SESSION_free
#define SSL_SESSION_is_resumable nt__ossl_SSL_SESSION_is_resumable
#define SSL_clear_options nt__ossl_SSL_clear_options
#define SSL_ctrl nt__ossl_SSL_ctrl
#define SSL_do_handshake nt__ossl_SSL_do_handshake
#define SSL_free nt__ossl_SSL_free
#define SSL_get0_alpn_selected nt__ossl_SSL_get0_alpn_selected
#define SSL_get0_param nt__ossl_SSL_get0_param
#define SSL_get1_session nt__ossl_SSL_get1_session
#define SSL_get_SSL_CTX nt__ossl_SSL_get_SSL_CTX
#define SSL_get_current_cipher nt__ossl_SSL_get_current_cipher
#define SSL_get_error nt__ossl_SSL_get_error
#define SSL_get_ex_data nt__ossl_SSL_get_ex_data
#define SSL_get_servername nt__ossl_SSL_get_servername
#define SSL_get_shutdown nt__ossl_SSL_get_shutdown
#define SSL_get_verify_result nt__ossl_SSL_get_verify_result
#define SSL_get_version nt__ossl_SSL_get_version
#define SSL_is_init_finished nt__ossl_SSL_is_init_finished
#define SSL_load_client_CA_file nt__ossl_SSL_load_client_CA_file
#define SSL_new nt__ossl_SSL_new
#define SSL_pending nt__ossl_SSL_pending
#define SSL_read_ex nt__ossl_SSL_read_ex
#define SSL_renegotiate nt__ossl_SSL_renegotiate
#define SSL_session_reused nt__ossl_SSL_session_reused
#define SSL_set1_host nt__ossl_SSL_set1_host
#define SSL_set_accept_state nt__ossl_SSL_set_accept_state
#define SSL_set_bio nt__ossl_SSL_set_bio
#define SSL_set_connect_state nt__ossl_SSL_set_connect_state
#define SSL_set_ex_data nt__ossl_SSL_set_ex_data
#define SSL_set_hostflags nt__ossl_SSL_set_hostflags
#define SSL_set_session nt__ossl_SSL_set_session
#define SSL_set_shutdown nt__ossl_SSL_set_shutdown
#define SSL_shutdown nt__ossl_SSL_shutdown
#define SSL_version nt__ossl_SSL_version
#define SSL_write_ex nt__ossl_SSL_write_ex
#define TLS_client_method nt__ossl_TLS_client_method
#define TLS_server_method nt__ossl_TLS_server_method
#define X509_VERIFY_PARAM_set1_ip_asc nt__ossl_X509_VERIFY_PARAM_set1_ip_asc
#define X509_verify_cert_error_string nt__ossl_X509_verify_cert_error_string

#ifndef __ASSEMBLER__
/* Loads OpenSSL now if it is not yet: 0, or NT_ENOTSUP (libssl.so.3 or a
 * function missing; the message is in nt__ossl_error()). The stubs call it
 * on first use and abort with that message if it fails; entry points that
 * can report an error (a TLS context, a digest) call it first. */
int nt__ossl_load(void);
const char *nt__ossl_error(void);
#endif

#endif
