import Foundation

/// A registration response as WebAuthn clients serialise it (`PublicKeyCredential.toJSON()`,
/// @simplewebauthn/browser): binary fields in base64url.
public struct PasskeyRegistrationResponse: Decodable, Sendable {
    public struct Response: Decodable, Sendable {
        public var clientDataJSON: String
        public var attestationObject: String
        public var transports: [String]?
    }

    public var id: String
    public var rawId: String?
    public var type: String?
    public var response: Response
}

/// An authentication response, serialised the same way.
public struct PasskeyAuthenticationResponse: Decodable, Sendable {
    public struct Response: Decodable, Sendable {
        public var clientDataJSON: String
        public var authenticatorData: String
        public var signature: String
        public var userHandle: String?
    }

    public var id: String
    public var rawId: String?
    public var type: String?
    public var response: Response
}

/// Why a passkey ceremony was refused; a surface words each its own way.
public enum PasskeyRefusal: Error, Equatable, Sendable {
    /// No live challenge for the client's cookie, or one of the other ceremony.
    case challengeNotFound
    /// The challenge was handed out to another account.
    case notYours
    /// The registration response did not verify (the reason is for logs, not clients).
    case registrationFailed(String)
    /// The credential is registered already (to this account or another).
    case previouslyRegistered
    /// The account holds `Passkeys.maxPerUser` passkeys.
    case limitReached
    /// No passkey has this id (or none of the caller's).
    case notFound
    /// The authentication response did not verify; `badSignature` when all but the
    /// signature (or the counter) matched.
    case authenticationFailed(String, badSignature: Bool)
    /// Too many ceremonies are waiting for their answer.
    case busy
}

/// Passkeys (WebAuthn): registering one to a signed-in account, signing in with one (under the
/// same policies and lockout as a password), and listing, renaming and deleting them. Each
/// ceremony's challenge is stored under the hash of a token the client keeps in a cookie,
/// is used once and lives `challengeLifetime`.
public struct Passkeys: Sendable {
    let core: Core

    public static let challengeLifetime: TimeInterval = 300
    public static let maxPerUser = 25
    /// Live challenges kept at most (anyone may start a sign-in ceremony).
    static let maxChallengesWaiting = 50_000
    public static let maxNameLength = 100
    /// Live sign-in challenges one client address may hold.
    static let maxChallengesPerSource = 20

    /// A name of at most `maxNameLength` characters (and four bytes each).
    static func fits(_ name: String) -> Bool {
        name.count <= maxNameLength && name.utf8.count <= 4 * maxNameLength
    }
    static let knownTransports: Set<String> = ["ble", "cable", "hybrid", "internal", "nfc", "smart-card", "usb"]

    /// A challenge for a ceremony: the token for the client's cookie and the challenge itself.
    /// A registration replaces the account's earlier one; sign-ins are bounded per client
    /// address (`source`) and in all, since anyone may start one.
    func start(_ ceremony: PasskeyChallenge.Ceremony, userId: String?, source: String?) async throws -> (
        token: String, challenge: String
    ) {
        let token = Secrets.sessionToken()
        let challenge = Secrets.base64URL(Secrets.randomBytes(32))
        let now = Date()
        guard
            try await core.store.insertPasskeyChallenge(
                PasskeyChallenge(
                    tokenHash: Secrets.sha256Hex(token),
                    ceremony: ceremony,
                    challenge: challenge,
                    userId: userId,
                    source: source,
                    expiresAt: now.addingTimeInterval(Self.challengeLifetime)
                ),
                perSource: Self.maxChallengesPerSource,
                limit: Self.maxChallengesWaiting,
                now: now
            )
        else { throw PasskeyRefusal.busy }
        return (token, challenge)
    }

    /// The challenge of the client's cookie token for `ceremony`, used up.
    func take(_ token: String?, for ceremony: PasskeyChallenge.Ceremony) async throws -> PasskeyChallenge {
        guard let token, !token.isEmpty, token.utf8.count <= 256,
            let challenge = try await core.store.takePasskeyChallenge(tokenHash: Secrets.sha256Hex(token), now: Date()),
            challenge.ceremony == ceremony
        else { throw PasskeyRefusal.challengeNotFound }
        return challenge
    }

    /// Starts adding a passkey to `principal`'s account (from a session, not an API key): the
    /// challenge and the passkeys the account has (which the authenticator must not repeat).
    public func startRegistration(by principal: Principal) async throws -> (
        token: String, challenge: String, existing: [Passkey]
    ) {
        guard principal.sessionId != nil else { throw GatehouseError.requiresSession }
        try principal.requireNotImpersonated()
        let (token, challenge) = try await start(.registration, userId: principal.user.id, source: nil)
        return (token, challenge, try await core.store.passkeys(userId: principal.user.id))
    }

    /// Finishes adding a passkey: the response must answer the challenge of `token`, handed out
    /// to this account, for `party`. The owner is mailed a notice in the same transaction.
    public func finishRegistration(
        by principal: Principal,
        token: String?,
        response: PasskeyRegistrationResponse,
        name: String?,
        party: RelyingParty,
        clientIP: String?
    ) async throws -> Passkey {
        guard principal.sessionId != nil else { throw GatehouseError.requiresSession }
        try principal.requireNotImpersonated()
        let name = name?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let name, !Self.fits(name) {
            throw GatehouseError.validation([
                FieldIssue(field: "name", message: "must be at most \(Self.maxNameLength) characters", code: .tooLong)
            ])
        }
        let challenge = try await take(token, for: .registration)
        guard challenge.userId == principal.user.id else { throw PasskeyRefusal.notYours }
        guard let clientData = WebAuthn.base64URLDecoded(response.response.clientDataJSON),
            let attestation = WebAuthn.base64URLDecoded(response.response.attestationObject)
        else { throw PasskeyRefusal.registrationFailed("the response is not base64url") }
        let credential: WebAuthn.NewCredential
        do {
            credential = try WebAuthn.verifyRegistration(
                clientDataJSON: clientData,
                attestationObject: attestation,
                challenge: challenge.challenge,
                party: party
            )
        } catch {
            throw PasskeyRefusal.registrationFailed(error.description)
        }
        let credentialID = Secrets.base64URL(credential.id)
        guard WebAuthn.base64URLDecoded(response.id) == credential.id,
            response.rawId.map({ WebAuthn.base64URLDecoded($0) == credential.id }) ?? true
        else { throw PasskeyRefusal.registrationFailed("the response's id is not the attested credential's") }
        let transports = (response.response.transports ?? []).filter(Self.knownTransports.contains)
        let passkey = Passkey(
            userId: principal.user.id,
            name: name?.isEmpty == false ? name : nil,
            credentialID: credentialID,
            publicKey: credential.publicKey,
            counter: Int(credential.signCount),
            deviceType: credential.backupEligible ? "multiDevice" : "singleDevice",
            backedUp: credential.backedUp,
            transports: Array(Set(transports)).sorted(),
            aaguid: UUID(uuid: Self.uuidBytes(credential.aaguid)).uuidString.lowercased()
        )
        let notice = try core.credentials.notice(
            "passkey-added",
            to: principal.user,
            subject: "A passkey was added to your account",
            values: ["name": passkey.name ?? "Unnamed passkey"]
        )
        do {
            guard
                try await core.store.insertPasskey(
                    passkey,
                    limit: Self.maxPerUser,
                    audit: AuditEvent(
                        .passkeyAdded,
                        userId: principal.user.id,
                        ip: clientIP,
                        detail: ["passkeyId": .string(passkey.id), "format": .string(credential.attestationFormat)]
                    ),
                    mails: [notice]
                )
            else { throw PasskeyRefusal.limitReached }
        } catch StoreError.duplicate {
            throw PasskeyRefusal.previouslyRegistered
        }
        core.outboxNudge.signal()
        return passkey
    }

    /// Starts a sign-in with a passkey: the challenge, and the passkeys a signed-in caller may
    /// use (none for an anonymous one: the authenticator offers what it holds for the site).
    public func startAuthentication(for principal: Principal?, clientIP: String?) async throws -> (
        token: String, challenge: String, allowed: [Passkey]
    ) {
        let (token, challenge) = try await start(.authentication, userId: principal?.user.id, source: clientIP)
        guard let principal else { return (token, challenge, []) }
        return (token, challenge, try await core.store.passkeys(userId: principal.user.id))
    }

    /// Signs in with a passkey, like a password sign-in: the login policies (switch, address
    /// limits, lockout) first, then one reserved check against the account's lockout; a failed
    /// signature counts as a failed sign-in. A passkey is the whole proof (no second factor is
    /// asked for), provided the authenticator verified the user (PIN, biometrics) when the
    /// account has two-factor authentication on.
    public func authenticate(
        token: String?,
        response: PasskeyAuthenticationResponse,
        party: RelyingParty,
        clientIP: String?,
        userAgent: String?
    ) async throws -> (user: User, token: String) {
        let challenge = try await take(token, for: .authentication)
        guard response.id.utf8.count <= 2048, let passkey = try await core.store.passkey(credentialID: response.id),
            let user = try await core.store.user(id: passkey.userId)
        else {
            try await core.checkPolicies(PolicyInput(point: .login, clientIP: clientIP))
            throw PasskeyRefusal.notFound
        }
        try await core.checkPolicies(PolicyInput(point: .login, clientIP: clientIP, email: user.email))
        let key: COSEKey
        do {
            key = try COSEKey(encoded: passkey.publicKey)
        } catch {
            // Our stored key, not the client's answer: no guess to count.
            throw PasskeyRefusal.authenticationFailed("the stored key is unusable: \(error)", badSignature: false)
        }
        try await core.checkPolicies(PolicyInput(point: .credentialCheck, email: user.email))
        let assertion: WebAuthn.Assertion
        do {
            guard let clientData = WebAuthn.base64URLDecoded(response.response.clientDataJSON),
                let authenticatorData = WebAuthn.base64URLDecoded(response.response.authenticatorData),
                let signature = WebAuthn.base64URLDecoded(response.response.signature)
            else { throw WebAuthn.Failure.invalid("the response is not base64url") }
            assertion = try WebAuthn.verifyAssertion(
                clientDataJSON: clientData,
                authenticatorData: authenticatorData,
                signature: signature,
                challenge: challenge.challenge,
                party: party,
                key: key,
                storedCount: UInt32(clamping: passkey.counter)
            )
            // Two sign-ins with one signature: the second finds the counter moved.
            guard
                try await core.store.advancePasskeyCounter(
                    id: passkey.id,
                    from: passkey.counter,
                    to: Int(assertion.signCount),
                    backedUp: assertion.backedUp
                )
            else { throw WebAuthn.Failure.counterNotIncreased }
        } catch let failure as WebAuthn.Failure {
            await core.accounts.recordLoginFailure(email: user.email, userId: user.id, reason: "passkey")
            let badSignature = failure == .badSignature || failure == .counterNotIncreased
            throw PasskeyRefusal.authenticationFailed(failure.description, badSignature: badSignature)
        } catch {
            await core.recordPolicyEvent(.credentialPassed(email: user.email))
            throw error
        }
        await core.recordPolicyEvent(.credentialPassed(email: user.email))
        // Without user verification a passkey is something held, one factor: not enough for an
        // account that asked for two.
        if user.twoFactorEnabled, !assertion.userVerified {
            throw PasskeyRefusal.authenticationFailed(
                "user verification is required: the account has two-factor authentication on",
                badSignature: false
            )
        }
        if user.suspended { throw GatehouseError.suspended }
        let token = try await core.signIns.startSession(
            user,
            method: "passkey",
            clientIP: clientIP,
            userAgent: userAgent
        )
        return (user, token)
    }

    public func list(userId: String) async throws -> [Passkey] {
        try await core.store.passkeys(userId: userId)
    }

    public func rename(_ id: String, to name: String, by principal: Principal) async throws -> Passkey {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, Self.fits(name) else {
            throw GatehouseError.validation([
                FieldIssue(
                    field: "name",
                    message: name.isEmpty ? "is required" : "must be at most \(Self.maxNameLength) characters",
                    code: name.isEmpty ? .required : .tooLong
                )
            ])
        }
        guard let passkey = try await core.store.renamePasskey(id: id, userId: principal.user.id, name: name) else {
            throw PasskeyRefusal.notFound
        }
        return passkey
    }

    public func delete(_ id: String, by principal: Principal) async throws {
        guard
            try await core.store.deletePasskey(
                id: id,
                userId: principal.user.id,
                audit: AuditEvent(.passkeyDeleted, userId: principal.user.id, detail: ["passkeyId": .string(id)])
            )
        else { throw PasskeyRefusal.notFound }
    }

    static func uuidBytes(_ bytes: [UInt8]) -> uuid_t {
        let b = bytes.count == 16 ? bytes : [UInt8](repeating: 0, count: 16)
        return (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
    }
}

extension Core {
    public var passkeys: Passkeys { Passkeys(core: self) }
}
