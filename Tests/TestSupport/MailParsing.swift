import Foundation

/// Just enough of a mail reader for the tests: headers (unfolded, RFC 2047 decoded) and the
/// decoded bodies of a multipart/alternative message.
public struct ParsedMail: Sendable {
    public let raw: String
    public let headers: [(String, String)]
    /// (content type, decoded body) of each part.
    public let parts: [(String, String)]

    public init(_ raw: String) {
        self.raw = raw
        let split = raw.range(of: "\r\n\r\n")!
        let head = raw[..<split.lowerBound].replacingOccurrences(of: "\r\n ", with: " ")
        headers = head.components(separatedBy: "\r\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (
                String(line[..<colon]),
                Self.decodeWords(String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
            )
        }
        var parts: [(String, String)] = []
        if let marker = raw.range(of: "boundary=\"") {
            let boundary = raw[marker.upperBound...].prefix { $0 != "\"" }
            for part in raw.components(separatedBy: "--\(boundary)").dropFirst() where !part.hasPrefix("--") {
                let sections = part.components(separatedBy: "\r\n\r\n")
                let type =
                    sections[0].components(separatedBy: "\r\n").first { $0.hasPrefix("Content-Type: ") }?
                    .dropFirst("Content-Type: ".count) ?? ""
                let encoded = sections.dropFirst().joined(separator: "\r\n\r\n").replacingOccurrences(
                    of: "\r\n",
                    with: ""
                )
                parts.append(
                    (String(type), Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) } ?? "")
                )
            }
        }
        self.parts = parts
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    static func decodeWords(_ value: String) -> String {
        guard value.contains("=?utf-8?B?") else { return value }
        return value.components(separatedBy: " ").map { word -> String in
            guard word.hasPrefix("=?utf-8?B?"), word.hasSuffix("?="),
                let data = Data(base64Encoded: String(word.dropFirst(10).dropLast(2)))
            else { return word + " " }
            return String(decoding: data, as: UTF8.self)
        }.joined().trimmingCharacters(in: .whitespaces)
    }
}
