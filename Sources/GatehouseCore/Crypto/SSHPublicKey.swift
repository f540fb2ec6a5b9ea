import Crypto
import Foundation

/// An OpenSSH public key line (`type base64-blob [comment]`), parsed and checked: the blob's SSH
/// wire format (RFC 4253 §6.6, RFC 5656, RFC 8709, OpenSSH's PROTOCOL.u2f) is decoded, its inner
/// type must match the declared one, and the key material must be well formed.
public struct SSHPublicKey: Sendable, Equatable {
    public var type: String
    public var blob: [UInt8]
    public var comment: String?

    /// Why a line was refused; `message` is what the client reads.
    public struct Invalid: Error, Equatable, Sendable {
        public var message: String
        init(_ message: String) { self.message = message }
    }

    public static let acceptedTypes: Set<String> = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ]

    /// `SHA256:` + unpadded standard base64 of the blob's SHA-256, as `ssh-keygen -lf` prints it.
    public var fingerprint: String {
        "SHA256:" + Data(SHA256.hash(data: blob)).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// The line as stored: type, blob, and the comment when there is one.
    public var line: String {
        let base = "\(type) \(Data(blob).base64EncodedString())"
        return comment.map { "\(base) \($0)" } ?? base
    }

    /// Parses one key line. RSA moduli below `minimumRSABits` are refused.
    public static func parse(_ text: String, minimumRSABits: Int = 2048) throws(Invalid) -> SSHPublicKey {
        let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if line.isEmpty { throw Invalid("Public key is empty") }
        if line.contains("PRIVATE KEY") {
            throw Invalid("This looks like a private key — paste the .pub file")
        }
        if line.contains(where: { $0 == "\n" || $0 == "\r" }) {
            throw Invalid("Paste exactly one public key, on one line")
        }
        if line.utf8.count > 16 * 1024 { throw Invalid("Public key is too long") }
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        let type = fields[0]
        if type == "ssh-dss" { throw Invalid("DSA keys (ssh-dss) are not accepted: use an ed25519 or ECDSA key") }
        guard acceptedTypes.contains(type) else {
            throw Invalid(
                "Unsupported key type \"\(type.prefix(40))\": use ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa or an sk- key"
            )
        }
        guard fields.count >= 2 else { throw Invalid("The key data after \"\(type)\" is missing") }
        guard let data = Data(base64Encoded: fields[1]) else { throw Invalid("The key data is not valid base64") }
        let comment = fields.count > 2 ? fields[2...].joined(separator: " ") : nil
        let blob = Array(data)
        try check(blob, declaredType: type, minimumRSABits: minimumRSABits)
        return SSHPublicKey(type: type, blob: blob, comment: comment)
    }

    /// Decodes the wire format and checks it against the declared type.
    static func check(_ blob: [UInt8], declaredType: String, minimumRSABits: Int) throws(Invalid) {
        var reader = WireReader(blob)
        guard let innerType = reader.string().flatMap({ String(bytes: $0, encoding: .utf8) }) else {
            throw Invalid("The key data is truncated")
        }
        guard innerType == declaredType else {
            throw Invalid("The key data is a \(innerType.prefix(40)) key, not \(declaredType)")
        }
        switch declaredType {
        case "ssh-ed25519":
            try ed25519(&reader)
        case "sk-ssh-ed25519@openssh.com":
            try ed25519(&reader)
            try application(&reader)
        case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
            try ecdsa(&reader, curve: String(declaredType.dropFirst("ecdsa-sha2-".count)))
        case "sk-ecdsa-sha2-nistp256@openssh.com":
            try ecdsa(&reader, curve: "nistp256")
            try application(&reader)
        case "ssh-rsa":
            try rsa(&reader, minimumBits: minimumRSABits)
        default:
            throw Invalid("Unsupported key type")
        }
        guard reader.isAtEnd else { throw Invalid("The key data has trailing bytes") }
    }

    static func ed25519(_ reader: inout WireReader) throws(Invalid) {
        guard let key = reader.string() else { throw Invalid("The key data is truncated") }
        guard key.count == 32 else { throw Invalid("An ed25519 key must be 32 bytes") }
    }

    static func application(_ reader: inout WireReader) throws(Invalid) {
        guard let application = reader.string(), String(bytes: application, encoding: .utf8) != nil else {
            throw Invalid("The security key's application is missing")
        }
    }

    static func ecdsa(_ reader: inout WireReader, curve: String) throws(Invalid) {
        guard let name = reader.string(), let point = reader.string() else {
            throw Invalid("The key data is truncated")
        }
        guard String(bytes: name, encoding: .utf8) == curve else {
            throw Invalid("The key's curve does not match its type")
        }
        let valid: Bool
        switch curve {
        case "nistp256": valid = (try? P256.Signing.PublicKey(x963Representation: point)) != nil
        case "nistp384": valid = (try? P384.Signing.PublicKey(x963Representation: point)) != nil
        default: valid = (try? P521.Signing.PublicKey(x963Representation: point)) != nil
        }
        guard valid else { throw Invalid("The ECDSA key is not a point on \(curve)") }
    }

    static func rsa(_ reader: inout WireReader, minimumBits: Int) throws(Invalid) {
        guard let exponent = reader.string(), let modulus = reader.string() else {
            throw Invalid("The key data is truncated")
        }
        guard let e = positive(exponent), e.count <= 8, e.last! & 1 == 1, e != [1] else {
            throw Invalid("The RSA public exponent is invalid")
        }
        guard let n = positive(modulus) else { throw Invalid("The RSA modulus is invalid") }
        let bits = n.count * 8 - n[0].leadingZeroBitCount
        guard bits >= minimumBits else {
            throw Invalid("RSA keys must be at least \(minimumBits) bits (this one is \(bits))")
        }
        guard bits <= 16384 else { throw Invalid("RSA keys over 16384 bits are not accepted") }
    }

    /// The magnitude of a positive mpint without leading zeros; nil for zero or negative.
    static func positive(_ mpint: [UInt8]) -> [UInt8]? {
        guard let first = mpint.first, first & 0x80 == 0 else { return nil }
        let magnitude = Array(mpint.drop { $0 == 0 })
        return magnitude.isEmpty ? nil : magnitude
    }
}

/// Reads SSH wire-format `string`s (uint32 big-endian length, then bytes) from a blob.
struct WireReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    /// The next string, or nil when the blob ends before it does.
    mutating func string() -> [UInt8]? {
        guard bytes.count - offset >= 4 else { return nil }
        let length =
            Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
            | Int(bytes[offset + 3])
        guard bytes.count - offset - 4 >= length else { return nil }
        let value = Array(bytes[(offset + 4)..<(offset + 4 + length)])
        offset += 4 + length
        return value
    }
}
