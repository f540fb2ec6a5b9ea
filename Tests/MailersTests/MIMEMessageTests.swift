import Foundation
import GatehouseCore
import Testing

@testable import Mailers

@Suite struct MIMEMessageTests {
    let message = MailMessage(
        to: "ada@example.test",
        subject: "Grüße from Gatehouse — a subject long enough to need more than one encoded word ✓",
        text: "Héllo\nsecond line",
        html: "<p>Héllo</p>"
    )

    /// Decodes RFC 2047 words the way a mail client does.
    func decodeWords(_ header: String) -> String {
        header.replacingOccurrences(of: "\r\n ", with: "").components(separatedBy: "?=").compactMap { word -> String? in
            guard let start = word.range(of: "=?utf-8?B?") else { return word.isEmpty ? nil : word }
            return String(decoding: Data(base64Encoded: String(word[start.upperBound...]))!, as: UTF8.self)
        }.joined()
    }

    @Test func headersAndPartsFollowRFC5322AndMIME() throws {
        let mime = MIMEMessage(message, from: MailAddress(name: "Gatehouse", address: "noreply@example.test"))
        let raw = String(decoding: mime.bytes, as: UTF8.self)
        // CRLF everywhere, no bare LF.
        #expect(!raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let (head, _) = try #require(raw.range(of: "\r\n\r\n").map { (raw[..<$0.lowerBound], raw[$0.upperBound...]) })
        let headerLines = head.components(separatedBy: "\r\n")
        #expect(headerLines.contains("From: Gatehouse <noreply@example.test>"))
        #expect(headerLines.contains("To: ada@example.test"))
        #expect(headerLines.contains("MIME-Version: 1.0"))
        #expect(headerLines.contains("Message-ID: <\(mime.messageId)>"))
        #expect(mime.messageId.hasSuffix("@example.test"))
        #expect(headerLines.contains { $0.hasPrefix("Date: ") && $0.hasSuffix(" +0000") })
        // Every line of the message is within RFC 5322's 78-character recommendation.
        #expect(raw.components(separatedBy: "\r\n").allSatisfy { $0.count <= 78 })
        // The subject is encoded words that decode to the original.
        let subjectStart = try #require(head.range(of: "Subject: "))
        let subjectEnd = try #require(head.range(of: "\r\nMessage-ID:"))
        let subject = String(head[subjectStart.upperBound..<subjectEnd.lowerBound])
        #expect(subject.hasPrefix("=?utf-8?B?"))
        #expect(decodeWords(subject) == message.subject)

        let boundary = try #require(raw.range(of: "boundary=\"").map { raw[$0.upperBound...].prefix { $0 != "\"" } })
        let parts = raw.components(separatedBy: "--\(boundary)")
        #expect(parts.count == 4)  // preamble, text, html, closing
        #expect(parts[3].hasPrefix("--"))
        func body(_ part: String) -> String {
            let content = part.components(separatedBy: "\r\n\r\n")[1].replacingOccurrences(of: "\r\n", with: "")
            return String(decoding: Data(base64Encoded: content)!, as: UTF8.self)
        }
        #expect(parts[1].contains("Content-Type: text/plain; charset=utf-8"))
        #expect(body(parts[1]) == message.text)
        #expect(parts[2].contains("Content-Type: text/html; charset=utf-8"))
        #expect(body(parts[2]) == message.html)
    }

    @Test func headerInjectionIsDefused() {
        let evil = MailMessage(to: "a@example.test", subject: "Hi\r\nBcc: victim@example.test", text: "", html: "")
        let raw = String(decoding: MIMEMessage(evil, from: MailAddress(address: "x@example.test")).bytes, as: UTF8.self)
        #expect(!raw.contains("\r\nBcc:"))
    }

    @Test func displayNamesAreQuotedOrEncoded() {
        #expect(
            MIMEMessage.addressHeader(MailAddress(name: "Acme, Inc.", address: "a@example.test"))
                == "\"Acme, Inc.\" <a@example.test>"
        )
        #expect(
            MIMEMessage.addressHeader(MailAddress(name: "Zoë", address: "a@example.test"))
                == "=?utf-8?B?Wm/Dqw==?= <a@example.test>"
        )
        #expect(
            MailAddress(parsing: "Gatehouse <noreply@example.com>")
                == MailAddress(name: "Gatehouse", address: "noreply@example.com")
        )
        #expect(MailAddress(parsing: "\"Ops Team\" <ops@example.com>")?.name == "Ops Team")
        #expect(MailAddress(parsing: "not an address") == nil)
    }
}
