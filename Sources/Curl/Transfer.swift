import CCurl
import Foundation

/// One blocking libcurl transfer on an easy handle. Runs on the `Curl` client's thread pool.
final class Transfer {
    private let handle: UnsafeMutableRawPointer
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    /// libcurl writes its error text here during a transfer; it lives as long as the handle.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// Bytes received.
    fileprivate var received: [UInt8] = []
    /// Raw header lines received.
    fileprivate var headerLines: [String] = []
    /// Bytes to upload, and how far we are.
    fileprivate var upload: [UInt8] = []
    fileprivate var uploadOffset = 0

    private init() throws {
        guard let handle = curl_easy_init() else {
            throw CurlError(code: CURLE_FAILED_INIT, responseCode: 0, message: "curl_easy_init failed")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        for list in lists { curl_slist_free_all(list) }
        errorBuffer.deallocate()
    }

    private func set(_ option: CURLoption, _ value: Int) { _ = ccurl_setopt_long(handle, option, value) }
    private func set(_ option: CURLoption, _ value: String) { _ = ccurl_setopt_string(handle, option, value) }

    private func set(_ option: CURLoption, list values: [String]) {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for value in values { list = curl_slist_append(list, value) }
        if let list {
            lists.append(list)
            _ = ccurl_setopt_slist(handle, option, list)
        }
    }

    /// Options every transfer shares: callbacks, error buffer, timeouts, no signals.
    private func prepare(timeout: Double) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        set(CURLOPT_CONNECTTIMEOUT_MS, Int(min(timeout, 10) * 1000))
        _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, me)
        _ = ccurl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
            transfer.received.append(contentsOf: bytes)
            return size * count
        }
        _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, me)
        _ = ccurl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
            transfer.headerLines.append(String(decoding: bytes, as: UTF8.self))
            return size * count
        }
    }

    private func setUpload(_ bytes: [UInt8]) {
        upload = bytes
        uploadOffset = 0
        _ = ccurl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(self).toOpaque())
        _ = ccurl_setopt_data_callback(handle, CURLOPT_READFUNCTION) { buffer, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let n = min(size * count, transfer.upload.count - transfer.uploadOffset)
            if n > 0 {
                transfer.upload.withUnsafeBytes { source in
                    UnsafeMutableRawPointer(buffer!).copyMemory(
                        from: source.baseAddress! + transfer.uploadOffset,
                        byteCount: n
                    )
                }
                transfer.uploadOffset += n
            }
            return n
        }
    }

    private var responseCode: Int {
        var code = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    private func run() throws {
        let result = curl_easy_perform(handle)
        guard result == CURLE_OK else {
            let message = String(cString: errorBuffer)
            throw CurlError(code: result, responseCode: responseCode, message: message)
        }
    }

    // MARK: HTTP

    static func http(_ request: CurlRequest) throws -> CurlResponse {
        let transfer = try Transfer()
        transfer.prepare(timeout: request.timeout)
        transfer.set(CURLOPT_URL, request.url)
        transfer.set(CURLOPT_PROTOCOLS_STR, "http,https")
        transfer.set(CURLOPT_CUSTOMREQUEST, request.method)
        if let body = request.body {
            transfer.set(CURLOPT_POST, 1)
            transfer.set(CURLOPT_POSTFIELDSIZE_LARGE, body.count)
            transfer.setUpload(body)
        } else if request.method == "HEAD" {
            transfer.set(CURLOPT_NOBODY, 1)
        }
        // No "Expect: 100-continue" round trip.
        transfer.set(CURLOPT_HTTPHEADER, list: request.headers.map { "\($0.0): \($0.1)" } + ["Expect:"])
        try transfer.run()

        // Keep the headers of the last response only (after any 100 Continue).
        var fields: [(String, String)] = []
        for line in transfer.headerLines {
            if line.hasPrefix("HTTP/") {
                fields = []
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespacesAndNewlines)
            fields.append((name, value))
        }
        return CurlResponse(status: transfer.responseCode, headers: fields, body: transfer.received)
    }

    // MARK: SMTP

    static func smtp(_ mail: SMTPSubmission) throws -> SMTPResult {
        let transfer = try Transfer()
        transfer.prepare(timeout: mail.timeout)
        let scheme = mail.security == .tls ? "smtps" : "smtp"
        let host = mail.host.contains(":") ? "[\(mail.host)]" : mail.host
        transfer.set(CURLOPT_URL, "\(scheme)://\(host):\(mail.port)")
        transfer.set(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        if mail.security == .starttls {
            transfer.set(CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
        }
        if let caFile = mail.caFile {
            transfer.set(CURLOPT_CAINFO, caFile)
        }
        if let username = mail.username {
            transfer.set(CURLOPT_USERNAME, username)
            transfer.set(CURLOPT_PASSWORD, mail.password ?? "")
        }
        transfer.set(CURLOPT_MAIL_FROM, "<\(mail.from)>")
        transfer.set(CURLOPT_MAIL_RCPT, list: mail.recipients.map { "<\($0)>" })
        transfer.set(CURLOPT_UPLOAD, 1)
        transfer.set(CURLOPT_INFILESIZE_LARGE, mail.message.count)
        transfer.setUpload(mail.message)
        try transfer.run()
        return SMTPResult(responseCode: transfer.responseCode)
    }
}
