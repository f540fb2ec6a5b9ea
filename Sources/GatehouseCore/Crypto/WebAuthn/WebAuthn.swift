import Crypto
import Foundation

/// Who passkeys are made for: the relying party's id (a registrable domain, the panel's
/// host), its name as authenticators show it, and the web origins its pages run on.
public struct RelyingParty: Sendable, Equatable {
    public var id: String
    public var name: String
    public var origins: [String]

    public init(id: String, name: String, origins: [String]) {
        self.id = id
        self.name = name
        self.origins = origins
    }
}

/// The server's half of WebAuthn (Level 2, §7.1 and §7.2): checking a new credential
/// (registration) and a signature made with one (authentication), for the attestation formats
/// `none` and `packed` (self attestation) and the algorithms of `COSEKey`.
public enum WebAuthn {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The response is malformed, or does not match the challenge, origin or relying party.
        case invalid(String)
        /// Everything matched but the signature.
        case badSignature
        /// The signature counter did not grow: a cloned authenticator, or a replay.
        case counterNotIncreased

        public var description: String {
            switch self {
            case .invalid(let reason): reason
            case .badSignature: "the signature does not verify"
            case .counterNotIncreased: "the signature counter did not increase"
            }
        }
    }

    /// The flags of authenticator data.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let userPresent = Flags(rawValue: 0x01)
        public static let userVerified = Flags(rawValue: 0x04)
        public static let backupEligible = Flags(rawValue: 0x08)
        public static let backedUp = Flags(rawValue: 0x10)
        public static let attestedCredential = Flags(rawValue: 0x40)
        public static let extensions = Flags(rawValue: 0x80)
    }

    /// Authenticator data (§6.1): the relying party's hash, flags, the counter, and at
    /// registration the new credential.
    public struct AuthenticatorData: Sendable {
        public var rpIdHash: [UInt8]
        public var flags: Flags
        public var signCount: UInt32
        public var credential: AttestedCredential?

        public struct AttestedCredential: Sendable {
            public var aaguid: [UInt8]
            public var id: [UInt8]
            /// The COSE_Key as the authenticator encoded it (what is stored).
            public var publicKey: [UInt8]
            public var key: COSEKey
        }

        public init(_ bytes: [UInt8]) throws(Failure) {
            guard bytes.count >= 37 else { throw .invalid("authenticator data is too short") }
            rpIdHash = Array(bytes[0..<32])
            flags = Flags(rawValue: bytes[32])
            signCount = bytes[33..<37].reduce(0) { $0 << 8 | UInt32($1) }
            var offset = 37
            if flags.contains(.attestedCredential) {
                guard bytes.count >= offset + 18 else { throw .invalid("attested credential data is truncated") }
                let aaguid = Array(bytes[offset..<offset + 16])
                let length = Int(bytes[offset + 16]) << 8 | Int(bytes[offset + 17])
                offset += 18
                guard length >= 16, length <= 1023 else { throw .invalid("credential id of \(length) bytes") }
                guard bytes.count >= offset + length else { throw .invalid("credential id is truncated") }
                let id = Array(bytes[offset..<offset + length])
                offset += length
                var decoder = CBORDecoder(bytes, offset: offset)
                let cbor: CBOR
                do {
                    cbor = try decoder.next()
                } catch {
                    throw .invalid("the credential public key is not CBOR (\(error))")
                }
                let key: COSEKey
                do {
                    key = try COSEKey(cbor)
                } catch {
                    throw .invalid(error.description)
                }
                credential = AttestedCredential(
                    aaguid: aaguid,
                    id: id,
                    publicKey: Array(bytes[offset..<decoder.offset]),
                    key: key
                )
                offset = decoder.offset
            }
            if flags.contains(.extensions) {
                var decoder = CBORDecoder(bytes, offset: offset)
                do {
                    guard case .map = try decoder.next() else { throw Failure.invalid("extensions are not a map") }
                } catch let failure as Failure {
                    throw failure
                } catch {
                    throw .invalid("extensions are not CBOR")
                }
                offset = decoder.offset
            }
            guard offset == bytes.count else { throw .invalid("authenticator data has trailing bytes") }
        }
    }

    /// The client's record of the ceremony (§5.8.1), as far as it is checked.
    struct ClientData: Decodable {
        var type: String
        var challenge: String
        var origin: String
        var crossOrigin: Bool?
    }

    /// Checks the client data of a ceremony of `type` against the challenge and origins.
    static func checkClientData(_ json: [UInt8], type: String, challenge: String, party: RelyingParty)
        throws(Failure)
    {
        guard let data = try? JSONDecoder().decode(ClientData.self, from: Data(json)) else {
            throw .invalid("clientDataJSON is not the client's data")
        }
        guard data.type == type else { throw .invalid("clientDataJSON is of type \(data.type), not \(type)") }
        guard Secrets.constantTimeEquals(data.challenge, challenge) else {
            throw .invalid("the response is for another challenge")
        }
        guard party.origins.contains(data.origin) else { throw .invalid("origin \(data.origin) is not allowed") }
        guard data.crossOrigin != true else { throw .invalid("cross-origin ceremonies are not allowed") }
    }

    static func checkRelyingParty(_ data: AuthenticatorData, _ party: RelyingParty) throws(Failure) {
        guard data.rpIdHash == Array(SHA256.hash(data: Array(party.id.utf8))) else {
            throw .invalid("the credential is for another relying party")
        }
        guard data.flags.contains(.userPresent) else { throw .invalid("the user was not present") }
        if data.flags.contains(.backedUp), !data.flags.contains(.backupEligible) {
            throw .invalid("a credential backed up that cannot be")
        }
    }

    /// A credential checked at registration.
    public struct NewCredential: Sendable {
        public var id: [UInt8]
        public var publicKey: [UInt8]
        public var algorithm: COSEKey.Algorithm
        public var signCount: UInt32
        public var aaguid: [UInt8]
        public var backupEligible: Bool
        public var backedUp: Bool
        public var userVerified: Bool
        /// `none` or `packed`.
        public var attestationFormat: String
    }

    /// Verifies a registration response (§7.1) for `challenge`: client data, the relying
    /// party's hash, user presence, the new credential's key, and its attestation statement:
    /// `none`, or `packed` self attestation (signed by the new key itself). Attestation by a
    /// certificate (`x5c`) and other formats are refused: the options ask for `none`.
    public static func verifyRegistration(
        clientDataJSON: [UInt8],
        attestationObject: [UInt8],
        challenge: String,
        party: RelyingParty
    ) throws(Failure) -> NewCredential {
        try checkClientData(clientDataJSON, type: "webauthn.create", challenge: challenge, party: party)
        let object: CBOR
        do {
            object = try CBORDecoder.decode(attestationObject)
        } catch {
            throw .invalid("attestationObject is not CBOR (\(error))")
        }
        guard let format = object["fmt"]?.string, let statement = object["attStmt"],
            case .map(let statementEntries) = statement, let authBytes = object["authData"]?.byteString
        else { throw .invalid("attestationObject lacks fmt, attStmt or authData") }
        let data = try AuthenticatorData(authBytes)
        try checkRelyingParty(data, party)
        guard let credential = data.credential else { throw .invalid("no credential was attested") }
        switch format {
        case "none":
            guard statementEntries.isEmpty else { throw .invalid("a none attestation has a statement") }
        case "packed":
            guard statement["x5c"] == nil else {
                throw .invalid("attestation by certificate is not supported (the options ask for none)")
            }
            guard let alg = statement["alg"]?.int, let signature = statement["sig"]?.byteString else {
                throw .invalid("a packed attestation needs alg and sig")
            }
            guard alg == credential.key.algorithm.rawValue else {
                throw .invalid("the attestation's algorithm is not the credential's")
            }
            let signed = authBytes + Array(SHA256.hash(data: clientDataJSON))
            guard credential.key.isValidSignature(signature, for: signed) else { throw .badSignature }
        default:
            throw .invalid("attestation format \(format) is not supported")
        }
        return NewCredential(
            id: credential.id,
            publicKey: credential.publicKey,
            algorithm: credential.key.algorithm,
            signCount: data.signCount,
            aaguid: credential.aaguid,
            backupEligible: data.flags.contains(.backupEligible),
            backedUp: data.flags.contains(.backedUp),
            userVerified: data.flags.contains(.userVerified),
            attestationFormat: format
        )
    }

    /// What an authentication proved.
    public struct Assertion: Sendable {
        public var signCount: UInt32
        public var userVerified: Bool
        public var backedUp: Bool
    }

    /// Verifies an authentication response (§7.2) for `challenge` with the stored `key`:
    /// client data, the relying party's hash, user presence, the signature over the
    /// authenticator data and the client data's hash, and a counter that grows (unless the
    /// authenticator keeps none: 0 before and after).
    public static func verifyAssertion(
        clientDataJSON: [UInt8],
        authenticatorData: [UInt8],
        signature: [UInt8],
        challenge: String,
        party: RelyingParty,
        key: COSEKey,
        storedCount: UInt32
    ) throws(Failure) -> Assertion {
        try checkClientData(clientDataJSON, type: "webauthn.get", challenge: challenge, party: party)
        let data = try AuthenticatorData(authenticatorData)
        try checkRelyingParty(data, party)
        guard data.credential == nil else { throw .invalid("an assertion attests no credential") }
        let signed = authenticatorData + Array(SHA256.hash(data: clientDataJSON))
        guard key.isValidSignature(signature, for: signed) else { throw .badSignature }
        if data.signCount > 0 || storedCount > 0, data.signCount <= storedCount { throw .counterNotIncreased }
        return Assertion(
            signCount: data.signCount,
            userVerified: data.flags.contains(.userVerified),
            backedUp: data.flags.contains(.backedUp)
        )
    }

    /// Bytes of base64url text (padding allowed, as some clients send it); nil when it is not.
    public static func base64URLDecoded(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64.append("=") }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
