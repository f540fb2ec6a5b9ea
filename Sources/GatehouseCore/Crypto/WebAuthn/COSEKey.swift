import Crypto
import CryptoExtras
import Foundation

/// A credential's public key as an authenticator gives it (a COSE_Key, RFC 9053), for the
/// three algorithms passkeys use: ES256 (P-256 with SHA-256), EdDSA (Ed25519) and RS256
/// (RSA PKCS#1 v1.5 with SHA-256, 2048 to 4096 bits).
public enum COSEKey: Sendable {
    case es256(P256.Signing.PublicKey)
    case ed25519(Curve25519.Signing.PublicKey)
    case rs256(_RSA.Signing.PublicKey)

    /// COSE algorithm numbers.
    public enum Algorithm: Int, Sendable, CaseIterable {
        case eddsa = -8
        case es256 = -7
        case rs256 = -257
    }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public var algorithm: Algorithm {
        switch self {
        case .es256: .es256
        case .ed25519: .eddsa
        case .rs256: .rs256
        }
    }

    /// The key in `cbor` (a COSE_Key map), which must name its algorithm and be one we verify.
    public init(_ cbor: CBOR) throws(Invalid) {
        guard case .map = cbor else { throw Invalid("the public key is not a COSE key") }
        guard let kty = cbor[1]?.int, let alg = cbor[3]?.int else {
            throw Invalid("the public key lacks its type or algorithm")
        }
        switch (kty, Algorithm(rawValue: alg)) {
        case (2, .es256?):
            guard cbor[-1]?.int == 1, let x = cbor[-2]?.byteString, let y = cbor[-3]?.byteString, x.count == 32,
                y.count == 32
            else { throw Invalid("an ES256 key must be a P-256 point") }
            guard let key = try? P256.Signing.PublicKey(rawRepresentation: x + y) else {
                throw Invalid("the ES256 key is not a point on P-256")
            }
            self = .es256(key)
        case (1, .eddsa?):
            guard cbor[-1]?.int == 6, let x = cbor[-2]?.byteString, x.count == 32 else {
                throw Invalid("an EdDSA key must be an Ed25519 key")
            }
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x) else {
                throw Invalid("the Ed25519 key is not valid")
            }
            self = .ed25519(key)
        case (3, .rs256?):
            guard let n = cbor[-1]?.byteString, let e = cbor[-2]?.byteString, !e.isEmpty, e.count <= 8 else {
                throw Invalid("an RS256 key needs its modulus and exponent")
            }
            let modulus = n.drop { $0 == 0 }
            guard modulus.count >= 256, modulus.count <= 512 else {
                throw Invalid("an RS256 key must be 2048 to 4096 bits")
            }
            guard let key = try? _RSA.Signing.PublicKey(n: Array(modulus), e: e) else {
                throw Invalid("the RS256 key is not valid")
            }
            self = .rs256(key)
        default:
            throw Invalid("unsupported key algorithm \(alg) (type \(kty)): ES256, EdDSA and RS256 are")
        }
    }

    /// The key of a COSE_Key encoding (as stored).
    public init(encoded bytes: [UInt8]) throws(Invalid) {
        let cbor: CBOR
        do {
            cbor = try CBORDecoder.decode(bytes)
        } catch {
            throw Invalid("the stored public key is not CBOR")
        }
        try self.init(cbor)
    }

    /// Whether `signature` (DER for ES256, raw for the others, as WebAuthn sends them) signs
    /// `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        switch self {
        case .es256(let key):
            guard let signature = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(signature, for: message)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: message)
        case .rs256(let key):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature),
                for: message,
                padding: .insecurePKCS1v1_5
            )
        }
    }
}
