import Foundation
import GatehouseCore

/// An RFC 5322 message with a multipart/alternative body (text, then HTML), both parts UTF-8 in
/// base64, CRLF line endings throughout. Non-ASCII header text is RFC 2047-encoded.
struct MIMEMessage {
    let messageId: String
    let bytes: [UInt8]

    init(_ message: MailMessage, from: MailAddress, date: Date = Date()) {
        let random = Secrets.hex(Secrets.randomBytes(16))
        messageId = "\(random)@\(from.domain)"
        let boundary = "=_gatehouse_" + Secrets.hex(Secrets.randomBytes(12))
        var lines = [
            "Date: \(Self.rfc5322Date(date))",
            "From: \(Self.addressHeader(from))",
            "To: \(Self.clean(message.to))",
            "Subject: \(Self.encodedWords(message.subject))",
            "Message-ID: <\(messageId)>",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative;\r\n boundary=\"\(boundary)\"",
            "",
        ]
        for (type, content) in [("text/plain", message.text), ("text/html", message.html)] {
            lines += [
                "--\(boundary)",
                "Content-Type: \(type); charset=utf-8",
                "Content-Transfer-Encoding: base64",
                "",
            ]
            lines += Self.base64Lines(Array(content.utf8))
        }
        lines += ["--\(boundary)--", ""]
        bytes = Array(lines.joined(separator: "\r\n").utf8)
    }

    /// Header text with line breaks removed (no header injection).
    static func clean(_ text: String) -> String {
        text.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: " ")
    }

    /// The text as is when it is printable ASCII, else RFC 2047 `=?utf-8?B?...?=` words of at
    /// most 64 characters (39 bytes each), folded onto continuation lines, so that even the first
    /// line, after `Subject: `, stays within 78 characters.
    static func encodedWords(_ text: String) -> String {
        let text = clean(text)
        if text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }) { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 39 {
                words.append("=?utf-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?utf-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    static func addressHeader(_ address: MailAddress) -> String {
        guard let name = address.name else { return address.address }
        let needsQuoting = name.contains { "()<>[]:;@\\,.\"".contains($0) }
        let encoded = encodedWords(name)
        let display =
            encoded != clean(name)
            ? encoded
            : (needsQuoting
                ? "\"\(name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
                : name)
        return "\(display) <\(address.address)>"
    }

    static func base64Lines(_ bytes: [UInt8]) -> [String] {
        let encoded = Data(bytes).base64EncodedString()
        var lines: [String] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<end]))
            index = end
        }
        return lines
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
