import Crypto
import Foundation

/// Random tokens and the hashes we store instead of them.
public enum Secrets {
    /// `count` bytes from the system's cryptographic generator.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// A new session token: 32 random bytes, base64url without padding (43 characters).
    public static func sessionToken() -> String {
        base64URL(randomBytes(32))
    }

    /// Lowercase hex of SHA-256 of the UTF-8 bytes: what the store keeps of a token.
    public static func sha256Hex(_ string: String) -> String {
        hex(SHA256.hash(data: Data(string.utf8)))
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    /// Lowercase hex of bytes. (This runs on every authenticated request: no `String(format:)`.)
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Compares two strings in time that depends only on their lengths.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

/// Opaque ids: 25 lowercase base36 characters starting with a letter (CONTRACT §1).
///
/// `c`, then the creation time in milliseconds (8 base36 digits, so ids sort by age), then 16
/// random base36 digits (about 82 bits).
public enum Identifier {
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")

    public static func make(now: Date = Date()) -> String {
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var time = String(millis, radix: 36)
        time = String(repeating: "0", count: max(0, 8 - time.count)) + time
        var generator = SystemRandomNumberGenerator()
        let random = (0..<16).map { _ in alphabet[Int.random(in: 0..<36, using: &generator)] }
        return "c" + time.suffix(8) + String(random)
    }

    public static func isValid(_ id: String) -> Bool {
        id.utf8.count == 25 && id.first!.isLowercase && id.allSatisfy { alphabet.contains($0) }
    }
}
