import CCurl

/// Why a transfer failed, sorted by what the caller should do about it.
public struct CurlError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Nobody answered (refused, unreachable, unknown host).
        case connection
        case timeout
        /// The TLS handshake or certificate check failed.
        case tls
        /// The server refused our credentials.
        case authentication
        /// The server answered with an error (SMTP 4xx/5xx during the transaction, ...).
        case rejected
        /// Anything else libcurl reports.
        case other
    }

    public var kind: Kind
    /// libcurl's result code.
    public var code: Int
    /// The server's reply code when there was one (SMTP or HTTP), else 0.
    public var responseCode: Int
    /// libcurl's explanation. Never holds credentials: libcurl does not echo them.
    public var message: String

    public var description: String {
        responseCode > 0 ? "\(message) (server replied \(responseCode))" : message
    }

    init(code: CURLcode, responseCode: Int, message: String) {
        self.code = Int(code.rawValue)
        self.responseCode = responseCode
        self.message = message.isEmpty ? String(cString: curl_easy_strerror(code)) : message
        switch code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_SEND_ERROR,
            CURLE_RECV_ERROR, CURLE_GOT_NOTHING:
            kind = .connection
        case CURLE_OPERATION_TIMEDOUT:
            kind = .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_USE_SSL_FAILED, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_ENGINE_INITFAILED:
            kind = .tls
        case CURLE_LOGIN_DENIED, CURLE_AUTH_ERROR:
            kind = .authentication
        case CURLE_SEND_FAIL_REWIND, CURLE_UPLOAD_FAILED, CURLE_WEIRD_SERVER_REPLY, CURLE_QUOTE_ERROR,
            CURLE_REMOTE_ACCESS_DENIED:
            kind = .rejected
        default:
            kind = .other
        }
    }
}
