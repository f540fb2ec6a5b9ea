/// A CBOR data item (RFC 8949): the part of CBOR that WebAuthn's attestation objects,
/// authenticator data and COSE keys use.
public indirect enum CBOR: Sendable, Equatable {
    case unsigned(UInt64)
    /// The integer `-1 - n`.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBOR])
    /// Keys in the order they came; a key appears once.
    case map([Pair])
    case tagged(UInt64, CBOR)
    case bool(Bool)
    case null
    case undefined
    case float(Double)

    public struct Pair: Sendable, Equatable {
        public var key: CBOR
        public var value: CBOR
    }

    /// The integer, when it is one that fits an `Int`.
    public var int: Int? {
        switch self {
        case .unsigned(let n): return n <= UInt64(Int.max) ? Int(n) : nil
        case .negative(let n): return n <= UInt64(Int.max) ? -1 - Int(n) : nil
        default: return nil
        }
    }

    public var byteString: [UInt8]? {
        if case .bytes(let bytes) = self { return bytes }
        return nil
    }

    public var string: String? {
        if case .text(let text) = self { return text }
        return nil
    }

    /// The value of a map's integer key (COSE keys are keyed so).
    public subscript(key: Int) -> CBOR? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.key.int == key }?.value
    }

    /// The value of a map's text key (attestation objects are keyed so).
    public subscript(key: String) -> CBOR? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.key.string == key }?.value
    }
}

/// Decodes CBOR from untrusted bytes: every length is checked against the bytes that are left
/// before anything is allocated, nesting is bounded, indefinite lengths, reserved encodings,
/// text that is not UTF-8, map keys other than integers and text, and maps that repeat a key
/// are refused. Any failure is a
/// `CBORDecoder.Failure`, never a trap.
public struct CBORDecoder {
    public enum Failure: Error, Equatable {
        case truncated
        case malformed(String)
        case tooDeep
        case trailingBytes
    }

    /// Nesting deeper than this is refused (WebAuthn's structures nest three levels).
    public static let maxDepth = 16
    /// Maps with more entries are refused (WebAuthn's have a handful; repeated keys are looked
    /// for, which must stay cheap).
    public static let maxMapEntries = 64

    let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Exactly one item, with nothing after it.
    public static func decode(_ bytes: [UInt8]) throws(Failure) -> CBOR {
        var decoder = CBORDecoder(bytes)
        let item = try decoder.next()
        guard decoder.offset == bytes.count else { throw .trailingBytes }
        return item
    }

    /// The item at `offset`, moving past it.
    public mutating func next() throws(Failure) -> CBOR {
        try item(depth: 0)
    }

    var remaining: Int { bytes.count - offset }

    mutating func byte() throws(Failure) -> UInt8 {
        guard offset < bytes.count else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func take(_ count: UInt64) throws(Failure) -> [UInt8] {
        guard count <= UInt64(remaining) else { throw .truncated }
        let end = offset + Int(count)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    mutating func bigEndian(_ width: Int) throws(Failure) -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<width { value = value << 8 | UInt64(try byte()) }
        return value
    }

    /// The argument of an initial byte's additional information (0–23 inline; 24–27 one to
    /// eight bytes after it).
    mutating func argument(_ info: UInt8) throws(Failure) -> UInt64 {
        switch info {
        case 0...23: return UInt64(info)
        case 24: return try bigEndian(1)
        case 25: return try bigEndian(2)
        case 26: return try bigEndian(4)
        case 27: return try bigEndian(8)
        case 31: throw .malformed("indefinite lengths are not supported")
        default: throw .malformed("reserved additional information \(info)")
        }
    }

    mutating func item(depth: Int) throws(Failure) -> CBOR {
        guard depth <= Self.maxDepth else { throw .tooDeep }
        let initial = try byte()
        let major = initial >> 5
        let info = initial & 0x1F
        switch major {
        case 0:
            return .unsigned(try argument(info))
        case 1:
            return .negative(try argument(info))
        case 2:
            return .bytes(try take(try argument(info)))
        case 3:
            let raw = try take(try argument(info))
            guard let text = String(validating: raw, as: UTF8.self) else { throw .malformed("text is not UTF-8") }
            return .text(text)
        case 4:
            let count = try argument(info)
            // Each element takes at least one byte: a count beyond what is left cannot be.
            guard count <= UInt64(remaining) else { throw .truncated }
            var items: [CBOR] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<count { items.append(try item(depth: depth + 1)) }
            return .array(items)
        case 5:
            let count = try argument(info)
            guard count <= UInt64(Self.maxMapEntries) else { throw .malformed("a map of \(count) entries") }
            guard count <= UInt64(remaining / 2) else { throw .truncated }
            var pairs: [CBOR.Pair] = []
            pairs.reserveCapacity(Int(count))
            for _ in 0..<count {
                let key = try item(depth: depth + 1)
                // Integer and text keys only (all WebAuthn uses), so the repeat check stays cheap.
                switch key {
                case .unsigned, .negative, .text: break
                default: throw .malformed("a map key that is not an integer or text")
                }
                let value = try item(depth: depth + 1)
                guard !pairs.contains(where: { $0.key == key }) else { throw .malformed("a map repeats a key") }
                pairs.append(CBOR.Pair(key: key, value: value))
            }
            return .map(pairs)
        case 6:
            let tag = try argument(info)
            return .tagged(tag, try item(depth: depth + 1))
        default:
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            case 23: return .undefined
            case 25: return .float(Double(Self.half(UInt16(try bigEndian(2)))))
            case 26: return .float(Double(Float(bitPattern: UInt32(try bigEndian(4)))))
            case 27: return .float(Double(bitPattern: try bigEndian(8)))
            default: throw .malformed("unsupported simple value \(info)")
            }
        }
    }

    /// An IEEE 754 half-precision value.
    static func half(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 == 0 ? 1 : -1
        let exponent = Int((bits >> 10) & 0x1F)
        let fraction = Float(bits & 0x3FF)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}
