import Foundation

/// An IPv4 or IPv6 address or CIDR range, e.g. `10.0.0.0/8`, `::1`.
public struct IPRange: Sendable, Equatable, CustomStringConvertible {
    let bytes: [UInt8]
    let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let bytes = IPRange.parseAddress(String(parts[0])) else { return nil }
        let maxPrefix = bytes.count * 8
        if parts.count == 2 {
            guard let prefix = Int(parts[1]), (0...maxPrefix).contains(prefix) else { return nil }
            self.prefixLength = prefix
        } else {
            self.prefixLength = maxPrefix
        }
        self.bytes = bytes
    }

    public var description: String {
        let address: String
        if bytes.count == 4 {
            address = bytes.map(String.init).joined(separator: ".")
        } else {
            address = stride(from: 0, to: 16, by: 2).map {
                String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
            }
            .joined(separator: ":")
        }
        return prefixLength == bytes.count * 8 ? address : "\(address)/\(prefixLength)"
    }

    /// True when `address` (text) lies in this range. IPv4-mapped IPv6 addresses match IPv4 ranges.
    public func contains(_ address: String) -> Bool {
        guard var other = IPRange.parseAddress(address) else { return false }
        if other.count == 16, bytes.count == 4, other[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            other = Array(other[12...])
        }
        guard other.count == bytes.count else { return false }
        var remaining = prefixLength
        for i in bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xff : ~(0xff >> UInt8(bits))
            if bytes[i] & mask != other[i] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// Bytes of an IPv4 (4) or IPv6 (16) address in text form.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
