import Crypto
import CryptoExtras
import Foundation
import Testing

@testable import GatehouseCore

/// CBOR, COSE keys and the WebAuthn ceremonies, on untrusted input: what verifies, and that
/// nothing malformed does or crashes.
struct WebAuthnTests {
    // MARK: CBOR

    /// RFC 8949 Appendix A.
    @Test func cborDecodesTheRFCsExamples() throws {
        let cases: [(String, CBOR)] = [
            ("00", .unsigned(0)), ("17", .unsigned(23)), ("1818", .unsigned(24)), ("190100", .unsigned(256)),
            ("1bffffffffffffffff", .unsigned(.max)), ("20", .negative(0)), ("3863", .negative(99)),
            ("4401020304", .bytes([1, 2, 3, 4])), ("6449455446", .text("IETF")), ("62c3bc", .text("ü")),
            ("83010203", .array([.unsigned(1), .unsigned(2), .unsigned(3)])),
            (
                "a201020304",
                .map([.init(key: .unsigned(1), value: .unsigned(2)), .init(key: .unsigned(3), value: .unsigned(4))])
            ),
            ("f4", .bool(false)), ("f5", .bool(true)), ("f6", .null), ("f7", .undefined),
            ("f93c00", .float(1.0)), ("f97bff", .float(65504.0)), ("fa47c35000", .float(100000.0)),
            ("fb3ff199999999999a", .float(1.1)), ("c11a514b67b0", .tagged(1, .unsigned(1_363_896_240))),
        ]
        for (hex, expected) in cases {
            #expect(try CBORDecoder.decode(bytes(hex)) == expected, "\(hex)")
        }
        #expect(CBOR.negative(99).int == -100)
        #expect(CBOR.unsigned(.max).int == nil)
    }

    @Test func cborRefusesWhatItCannotTrust() {
        let cases: [(String, CBORDecoder.Failure)] = [
            ("", .truncated), ("18", .truncated), ("44010203", .truncated),
            // Lengths far beyond the input are refused before anything is allocated.
            ("5bffffffffffffffff", .truncated), ("7bffffffffffffffff", .truncated),
            ("9bffffffffffffffff", .truncated), ("9a7fffffff", .truncated),
            ("bbffffffffffffffff", .malformed("a map of 18446744073709551615 entries")),
            ("5f", .malformed("indefinite lengths are not supported")),
            ("1c", .malformed("reserved additional information 28")),
            ("62c328", .malformed("text is not UTF-8")),
            ("a2010101", .truncated),
            ("a201010102", .malformed("a map repeats a key")),
            ("a1410000", .malformed("a map key that is not an integer or text")),
            ("f8ff", .malformed("unsupported simple value 24")),
            ("0000", .trailingBytes),
            (String(repeating: "81", count: 40) + "00", .tooDeep),
        ]
        for (hex, failure) in cases {
            #expect(throws: failure, "\(hex)") { try CBORDecoder.decode(bytes(hex)) }
        }
    }

    // MARK: COSE keys

    @Test func coseKeysOfTheThreeAlgorithms() throws {
        let p256 = P256.Signing.PrivateKey()
        let es256 = try COSEKey(coseES256(p256.publicKey))
        #expect(es256.algorithm == .es256)
        let message = Array("signed".utf8)
        #expect(es256.isValidSignature(Array(try p256.signature(for: message).derRepresentation), for: message))
        #expect(!es256.isValidSignature(Array(try p256.signature(for: message).derRepresentation), for: [1]))
        #expect(!es256.isValidSignature([0x30, 0x00], for: message))

        let ed = Curve25519.Signing.PrivateKey()
        let eddsa = try COSEKey(coseEd25519(ed.publicKey))
        #expect(eddsa.isValidSignature(Array(try ed.signature(for: message)), for: message))
        #expect(!eddsa.isValidSignature(Array(repeating: 0, count: 64), for: message))
        #expect(!eddsa.isValidSignature([], for: message))

        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let rs256 = try COSEKey(coseRSA(rsa.publicKey))
        let rsaSignature = try rsa.signature(for: message, padding: .insecurePKCS1v1_5)
        #expect(rs256.isValidSignature(Array(rsaSignature.rawRepresentation), for: message))
        #expect(!rs256.isValidSignature(Array(rsaSignature.rawRepresentation.dropLast()), for: message))
        #expect(!rs256.isValidSignature([], for: message))
    }

    @Test func coseKeysThatAreNot() throws {
        let point = coseES256(P256.Signing.PrivateKey().publicKey)
        func replacing(_ key: Int, with value: CBOR?, in cbor: CBOR) -> CBOR {
            guard case .map(var pairs) = cbor else { return cbor }
            pairs.removeAll { $0.key.int == key }
            if let value {
                pairs.append(.init(key: key < 0 ? .negative(UInt64(-1 - key)) : .unsigned(UInt64(key)), value: value))
            }
            return .map(pairs)
        }
        let refused: [CBOR] = [
            .unsigned(1), .map([]),
            replacing(3, with: nil, in: point),
            replacing(3, with: .negative(34), in: point),  // ES384
            replacing(3, with: .negative(7), in: point),  // EdDSA's number on an EC2 key
            replacing(-1, with: .unsigned(2), in: point),  // P-384
            replacing(-2, with: .bytes([UInt8](repeating: 1, count: 31)), in: point),
            replacing(-2, with: .text("x"), in: point),
            replacing(-3, with: .bytes([UInt8](repeating: 0, count: 32)), in: point),  // not on the curve
        ]
        for cbor in refused {
            #expect(throws: COSEKey.Invalid.self, "\(cbor)") { try COSEKey(cbor) }
        }
        // RSA below 2048 bits.
        let small = CBOR.map([
            .init(key: .unsigned(1), value: .unsigned(3)), .init(key: .unsigned(3), value: .negative(256)),
            .init(key: .negative(0), value: .bytes([0xC5] + [UInt8](repeating: 0x11, count: 127))),
            .init(key: .negative(1), value: .bytes([1, 0, 1])),
        ])
        #expect(throws: COSEKey.Invalid.self) { try COSEKey(small) }
    }

    // MARK: Ceremonies

    static let party = RelyingParty(id: "panel.example", name: "Panel", origins: ["https://panel.example"])

    @Test func aRegistrationAndItsSignInVerify() throws {
        for format in ["none", "packed"] {
            let authenticator = SoftKey.p256()
            let challenge = Secrets.base64URL(Secrets.randomBytes(32))
            let (clientData, attestation) = authenticator.register(challenge: challenge, format: format)
            let credential = try WebAuthn.verifyRegistration(
                clientDataJSON: clientData,
                attestationObject: attestation,
                challenge: challenge,
                party: Self.party
            )
            #expect(credential.id == authenticator.credentialID)
            #expect(credential.algorithm == .es256 && credential.attestationFormat == format)
            let key = try COSEKey(encoded: credential.publicKey)

            let next = Secrets.base64URL(Secrets.randomBytes(32))
            let (getData, authData, signature) = authenticator.assert(challenge: next, count: 7)
            let assertion = try WebAuthn.verifyAssertion(
                clientDataJSON: getData,
                authenticatorData: authData,
                signature: signature,
                challenge: next,
                party: Self.party,
                key: key,
                storedCount: 0
            )
            #expect(assertion.signCount == 7 && assertion.userVerified)
            #expect(throws: WebAuthn.Failure.counterNotIncreased) {
                try WebAuthn.verifyAssertion(
                    clientDataJSON: getData,
                    authenticatorData: authData,
                    signature: signature,
                    challenge: next,
                    party: Self.party,
                    key: key,
                    storedCount: 7
                )
            }
            var tampered = signature
            tampered[tampered.count - 1] ^= 1
            #expect(throws: WebAuthn.Failure.badSignature) {
                try WebAuthn.verifyAssertion(
                    clientDataJSON: getData,
                    authenticatorData: authData,
                    signature: tampered,
                    challenge: next,
                    party: Self.party,
                    key: key,
                    storedCount: 0
                )
            }
        }
    }

    /// Each check of §7.1 and §7.2 refuses on its own.
    @Test func responsesForAnotherChallengeOriginPartyOrCeremonyAreRefused() throws {
        let authenticator = SoftKey.p256()
        let challenge = "c2FtZSBjaGFsbGVuZ2Ugb2YgMzIgYnl0ZXMgbG9uZyEhIQ"
        func registration(
            _ edit: (inout SoftKey.Ceremony) -> Void
        ) throws -> WebAuthn.NewCredential {
            var ceremony = SoftKey.Ceremony(challenge: challenge)
            edit(&ceremony)
            let (clientData, attestation) = authenticator.register(ceremony)
            return try WebAuthn.verifyRegistration(
                clientDataJSON: clientData,
                attestationObject: attestation,
                challenge: challenge,
                party: Self.party
            )
        }
        _ = try registration { _ in }
        let edits: [(String, (inout SoftKey.Ceremony) -> Void)] = [
            ("another challenge", { $0.challenge = "b3RoZXI" }),
            ("another origin", { $0.origin = "https://evil.example" }),
            ("a subdomain's origin", { $0.origin = "https://x.panel.example" }),
            ("the wrong ceremony", { $0.type = "webauthn.get" }),
            ("another relying party", { $0.rpID = "evil.example" }),
            ("no user presence", { $0.flags = 0x44 }),
            ("cross-origin", { $0.crossOrigin = true }),
            ("a certificate", { $0.certificate = true }),
            ("an unknown format", { $0.format = "tpm" }),
            ("a statement on none", { $0.noneStatement = true }),
        ]
        for (name, edit) in edits {
            #expect(throws: WebAuthn.Failure.self, "\(name)") { try registration(edit) }
        }
    }

    /// Every truncation, and thousands of random corruptions, of a valid registration and
    /// assertion are refused with a `Failure`, never a trap.
    @Test func corruptedResponsesNeverCrash() throws {
        let authenticator = SoftKey.p256()
        let challenge = Secrets.base64URL(Secrets.randomBytes(32))
        let (clientData, attestation) = authenticator.register(challenge: challenge, format: "packed")
        let key = try COSEKey(
            encoded: try WebAuthn.verifyRegistration(
                clientDataJSON: clientData,
                attestationObject: attestation,
                challenge: challenge,
                party: Self.party
            ).publicKey
        )
        let (getData, authData, signature) = authenticator.assert(challenge: challenge, count: 1)
        func register(_ object: [UInt8]) -> Bool {
            (try? WebAuthn.verifyRegistration(
                clientDataJSON: clientData,
                attestationObject: object,
                challenge: challenge,
                party: Self.party
            )) != nil
        }
        func assert(_ data: [UInt8]) -> Bool {
            (try? WebAuthn.verifyAssertion(
                clientDataJSON: getData,
                authenticatorData: data,
                signature: signature,
                challenge: challenge,
                party: Self.party,
                key: key,
                storedCount: 0
            )) != nil
        }
        for length in 0..<attestation.count { #expect(!register(Array(attestation.prefix(length)))) }
        for length in 0..<authData.count { #expect(!assert(Array(authData.prefix(length)))) }
        var random = SplitMix(seed: 0x5EED)
        var accepted = 0
        for _ in 0..<3000 {
            var object = attestation
            for _ in 0..<(1 + random.next() % 4) {
                object[Int(random.next() % UInt64(object.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            // (A corruption may write a byte's own value back: that one is not a corruption.)
            if object != attestation, register(object) { accepted += 1 }
            var data = authData
            data[Int(random.next() % UInt64(data.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            // A changed flag bit that is not checked (BE, BS) still fails the signature.
            #expect(!assert(data))
        }
        // Under packed attestation every byte of the authenticator data is signed.
        #expect(accepted == 0)
        for _ in 0..<2000 {
            let noise = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            #expect(!register(noise))
            _ = try? CBORDecoder.decode(noise)
        }
    }

    // MARK: Helpers

    func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return out
    }
}

/// A deterministic generator for the corruption test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func int(_ value: Int) -> CBOR { value < 0 ? .negative(UInt64(-1 - value)) : .unsigned(UInt64(value)) }

func coseES256(_ key: P256.Signing.PublicKey) -> CBOR {
    let raw = Array(key.rawRepresentation)
    return .map([
        .init(key: int(1), value: int(2)), .init(key: int(3), value: int(-7)), .init(key: int(-1), value: int(1)),
        .init(key: int(-2), value: .bytes(Array(raw[0..<32]))), .init(key: int(-3), value: .bytes(Array(raw[32..<64]))),
    ])
}

func coseEd25519(_ key: Curve25519.Signing.PublicKey) -> CBOR {
    .map([
        .init(key: int(1), value: int(1)), .init(key: int(3), value: int(-8)), .init(key: int(-1), value: int(6)),
        .init(key: int(-2), value: .bytes(Array(key.rawRepresentation))),
    ])
}

func coseRSA(_ key: _RSA.Signing.PublicKey) throws -> CBOR {
    let parts = try key.getKeyPrimitives()
    return .map([
        .init(key: int(1), value: int(3)), .init(key: int(3), value: int(-257)),
        .init(key: int(-1), value: .bytes(Array(parts.modulus))),
        .init(key: int(-2), value: .bytes(Array(parts.publicExponent))),
    ])
}

/// CBOR's encoding of the values these tests build.
func encode(_ value: CBOR) -> [UInt8] {
    func head(_ major: UInt8, _ n: UInt64) -> [UInt8] {
        switch n {
        case 0..<24: return [major << 5 | UInt8(n)]
        case 24..<256: return [major << 5 | 24, UInt8(n)]
        case 256..<65536: return [major << 5 | 25, UInt8(n >> 8), UInt8(n & 0xFF)]
        default: return [major << 5 | 26] + (0..<4).reversed().map { UInt8(truncatingIfNeeded: n >> (8 * $0)) }
        }
    }
    switch value {
    case .unsigned(let n): return head(0, n)
    case .negative(let n): return head(1, n)
    case .bytes(let b): return head(2, UInt64(b.count)) + b
    case .text(let t): return head(3, UInt64(t.utf8.count)) + Array(t.utf8)
    case .array(let items): return head(4, UInt64(items.count)) + items.flatMap(encode)
    case .map(let pairs): return head(5, UInt64(pairs.count)) + pairs.flatMap { encode($0.key) + encode($0.value) }
    default: fatalError("not used")
    }
}

/// A software P-256 authenticator, for the ceremonies' checks.
struct SoftKey {
    let key: P256.Signing.PrivateKey
    let credentialID: [UInt8]

    static func p256() -> SoftKey { SoftKey(key: P256.Signing.PrivateKey(), credentialID: Secrets.randomBytes(16)) }

    struct Ceremony {
        var challenge: String
        var origin = "https://panel.example"
        var type = "webauthn.create"
        var rpID = "panel.example"
        var flags: UInt8 = 0x45
        var crossOrigin = false
        var format = "packed"
        var certificate = false
        var noneStatement = false
    }

    func register(challenge: String, format: String) -> ([UInt8], [UInt8]) {
        var ceremony = Ceremony(challenge: challenge)
        ceremony.format = format
        return register(ceremony)
    }

    func register(_ ceremony: Ceremony) -> ([UInt8], [UInt8]) {
        let clientData = Array(
            #"{"type":"\#(ceremony.type)","challenge":"\#(ceremony.challenge)","origin":"\#(ceremony.origin)","crossOrigin":\#(ceremony.crossOrigin)}"#
                .utf8
        )
        let authData =
            Array(SHA256.hash(data: Array(ceremony.rpID.utf8))) + [ceremony.flags, 0, 0, 0, 0]
            + [UInt8](repeating: 0, count: 16) + [0, UInt8(credentialID.count)] + credentialID
            + encode(coseES256(key.publicKey))
        var statement: [CBOR.Pair] = []
        if ceremony.format == "packed" || ceremony.format == "tpm" {
            let signature = try! key.signature(for: authData + Array(SHA256.hash(data: clientData)))
            statement = [
                .init(key: .text("alg"), value: int(-7)),
                .init(key: .text("sig"), value: .bytes(Array(signature.derRepresentation))),
            ]
            if ceremony.certificate { statement.append(.init(key: .text("x5c"), value: .array([.bytes([0x30])]))) }
        }
        if ceremony.noneStatement { statement = [.init(key: .text("alg"), value: int(-7))] }
        let object = CBOR.map([
            .init(key: .text("fmt"), value: .text(ceremony.format)),
            .init(key: .text("attStmt"), value: .map(statement)),
            .init(key: .text("authData"), value: .bytes(authData)),
        ])
        return (clientData, encode(object))
    }

    func assert(challenge: String, count: UInt32) -> ([UInt8], [UInt8], [UInt8]) {
        let clientData = Array(
            #"{"type":"webauthn.get","challenge":"\#(challenge)","origin":"https://panel.example"}"#.utf8
        )
        let authData =
            Array(SHA256.hash(data: Array("panel.example".utf8))) + [0x05]
            + (0..<4).reversed().map { UInt8(truncatingIfNeeded: count >> (8 * $0)) }
        let signature = try! key.signature(for: authData + Array(SHA256.hash(data: clientData)))
        return (clientData, authData, Array(signature.derRepresentation))
    }
}
