import Foundation

/// How a sign-in ended: with a session, or with a second factor still owed.
public enum SignInResult: Sendable {
    case signedIn(User, token: String)
    /// The password was right; `tempToken` and a code finish it (`completeSignIn`).
    case twoFactorRequired(tempToken: String)
}

/// Signing in: with a password, finishing with a second factor, and right after sign-up.
public struct SignIns: Sendable {
    let core: Core
    /// The account rules these build on (password checks, audit rows, mails).
    var accounts: Accounts { core.accounts }
    /// How long a temp token from a password sign-in waits for its code.
    public static let challengeLifetime: TimeInterval = 5 * 60
    /// Wrong codes one temp token takes before it is void.
    public static let challengeAttempts = 5

    public static let invalidChallenge = GatehouseError(
        .unauthorized,
        "Invalid or expired two-factor session",
        code: .invalidChallenge
    )
    public static let invalidSignInCode = GatehouseError(.unauthorized, "Invalid two-factor code", code: .invalidCode)

    /// How long a browser trusted at a 2FA sign-in skips the second factor.
    public static let trustedDeviceLifetime: TimeInterval = 30 * 24 * 3600

    /// Signs in with email and password (login policies first: flags, lockout). With 2FA on,
    /// no session yet: a temp token valid `challengeLifetime` instead.
    public func signIn(email: String, password: String, clientIP: String?, userAgent: String?) async throws
        -> SignInResult
    {
        try await signIn(email: email, password: password, clientIP: clientIP, userAgent: userAgent, trustedDevice: nil)
            .result
    }

    /// `signIn`, from a browser that may be trusted (`trustedDevice`, the token a 2FA sign-in
    /// gave it): with 2FA on and the token the account's, the password alone signs in, and
    /// `newDevice` replaces the token (each is used once).
    public func signIn(
        email: String,
        password: String,
        clientIP: String?,
        userAgent: String?,
        trustedDevice: String?
    ) async throws -> (result: SignInResult, newDevice: String?) {
        let email = try Validate.boundedEmail(email)
        let user: User
        do {
            try await core.checkPolicies(PolicyInput(point: .login, clientIP: clientIP, email: email))
            user = try await accounts.authenticate(email: email, password: password)
        } catch let error as GatehouseError where error.code == .rateLimited {
            core.metrics.signIn(.locked)
            throw error
        }
        if user.twoFactorEnabled, let device = trustedDevice, !device.isEmpty, device.utf8.count <= 256,
            try await core.store.takeTrustedDevice(tokenHash: Secrets.sha256Hex(device), userId: user.id, now: Date())
        {
            let token = try await startSession(user, method: "trustedDevice", clientIP: clientIP, userAgent: userAgent)
            return (.signedIn(user, token: token), try? await trustDevice(of: user))
        }
        if user.twoFactorEnabled {
            let tempToken = Secrets.sessionToken()
            try await core.store.insertLoginChallenge(
                LoginChallenge(
                    userId: user.id,
                    tokenHash: Secrets.sha256Hex(tempToken),
                    expiresAt: Date().addingTimeInterval(Self.challengeLifetime)
                )
            )
            core.metrics.signIn(.twoFactor)
            return (.twoFactorRequired(tempToken: tempToken), nil)
        }
        let token = try await startSession(user, method: "password", clientIP: clientIP, userAgent: userAgent)
        return (.signedIn(user, token: token), nil)
    }

    /// A session for a sign-in that is complete, audited and counted as one.
    func startSession(_ user: User, method: String, clientIP: String?, userAgent: String?) async throws -> String {
        let (token, _) = try await core.sessions.create(
            for: user,
            ip: clientIP,
            userAgent: userAgent,
            audit: [AuditEvent(.loginSucceeded, userId: user.id, ip: clientIP, detail: ["method": .string(method)])],
            mails: try await signInNotice(for: user, ip: clientIP, userAgent: userAgent)
        )
        if core.settings.mail.signInNotice { core.outboxNudge.signal() }
        await core.recordPolicyEvent(.loginSucceeded(email: user.email))
        core.metrics.signIn(.ok)
        return token
    }

    /// A token for this browser to skip `user`'s second factor for `trustedDeviceLifetime`
    /// (given after a 2FA sign-in that asked for it).
    public func trustDevice(of user: User) async throws -> String {
        let token = Secrets.sessionToken()
        try await core.store.trustDevice(
            tokenHash: Secrets.sha256Hex(token),
            userId: user.id,
            expiresAt: Date().addingTimeInterval(Self.trustedDeviceLifetime)
        )
        return token
    }

    /// Signs a just-registered account in (a surface whose sign-up also signs in): the login
    /// policies are asked as for a sign-in, the session is recorded and counted like one. nil
    /// when the policies refuse a sign-in now (sign-in switched off): the account stays, without
    /// a session.
    public func signInAfterSignUp(_ user: User, clientIP: String?, userAgent: String?) async throws -> String? {
        do {
            try await core.checkPolicies(PolicyInput(point: .login, clientIP: clientIP, email: user.email))
        } catch is GatehouseError {
            return nil
        }
        let (token, _) = try await core.sessions.create(
            for: user,
            ip: clientIP,
            userAgent: userAgent,
            audit: [AuditEvent(.loginSucceeded, userId: user.id, ip: clientIP, detail: ["method": "signUp"])]
        )
        await core.recordPolicyEvent(.loginSucceeded(email: user.email))
        return token
    }

    /// How long a code mailed for a sign-in (`sendSignInCode`) works.
    public static let mailedCodeLifetime: TimeInterval = 180
    public static let mailedCodeExpired = GatehouseError(
        .badRequest,
        "The code has expired: ask for a new one",
        code: .codeExpired
    )

    /// Mails a 6-digit code that finishes the sign-in of `tempToken` (instead of the app's), good
    /// for `mailedCodeLifetime`; a new one replaces it. At most
    /// `policies.rateLimit.verificationMail` an hour.
    public func sendSignInCode(tempToken: String, clientIP: String?) async throws {
        let (challenge, user) = try await liveChallenge(tempToken)
        // An address never proven is no second factor.
        guard user.emailVerified else { throw Self.invalidChallenge }
        try await core.checkPolicies(PolicyInput(point: .verificationMail, clientIP: clientIP, email: user.email))
        var digits = SystemRandomNumberGenerator()
        let code = String(format: "%06d", Int.random(in: 0..<1_000_000, using: &digits))
        let mail = try accounts.mail(
            "sign-in-code",
            to: user.email,
            subject: "Your \(core.settings.mail.productName) sign-in code",
            values: accounts.noticeValues(["code": code])
        )
        guard
            try await core.store.saveLoginCode(
                challengeId: challenge.id,
                codeHash: core.secretKey.hash("\(challenge.id):\(code)"),
                expiresAt: Date().addingTimeInterval(Self.mailedCodeLifetime),
                mail: mail
            )
        else { throw Self.invalidChallenge }
        core.outboxNudge.signal()
    }

    /// The unexpired challenge of `tempToken` and its user (2FA on), else `invalidChallenge`.
    func liveChallenge(_ tempToken: String) async throws -> (LoginChallenge, User) {
        guard !tempToken.isEmpty, tempToken.utf8.count <= 256,
            let challenge = try await core.store.loginChallenge(tokenHash: Secrets.sha256Hex(tempToken), now: Date()),
            let user = try await core.store.user(id: challenge.userId), user.twoFactorEnabled
        else { throw Self.invalidChallenge }
        return (challenge, user)
    }

    /// Finishes a 2FA sign-in with a TOTP code or a backup code (`byMail`: the code
    /// `sendSignInCode` mailed). Wrong codes count towards the account's lockout like wrong
    /// passwords, and void the temp token after `challengeAttempts`.
    public func completeSignIn(
        tempToken: String,
        code: String,
        clientIP: String?,
        userAgent: String?,
        byMail: Bool = false
    ) async throws -> (User, token: String) {
        let (challenge, user) = try await liveChallenge(tempToken)
        try await core.checkPolicies(PolicyInput(point: .login, clientIP: clientIP, email: user.email))
        if user.suspended { throw GatehouseError.suspended }
        // The code counts toward the same lockout as the password.
        try await core.checkPolicies(PolicyInput(point: .credentialCheck, email: user.email))

        do {
            let (token, session) = core.sessions.newSession(for: user, ip: clientIP, userAgent: userAgent)
            let proof =
                byMail
                ? try await mailedProof(code, challenge: challenge) : try await accounts.twoFactorProof(code, for: user)
            if let proof,
                try await core.store.completeLoginChallenge(
                    id: challenge.id,
                    proof: proof,
                    session: session,
                    keepAtMost: core.settings.sessions.maxPerUser,
                    audit: AuditEvent(
                        .loginSucceeded,
                        userId: user.id,
                        ip: clientIP,
                        detail: ["method": .string(proof.method)]
                    ),
                    mails: try await signInNotice(for: user, ip: clientIP, userAgent: userAgent)
                )
            {
                if core.settings.mail.signInNotice { core.outboxNudge.signal() }
                await core.recordPolicyEvent(.loginSucceeded(email: user.email))
                return (user, token)
            }
        } catch {
            // A failure of ours, not a wrong code: the reserved slot goes back.
            await core.recordPolicyEvent(.credentialPassed(email: user.email))
            throw error
        }
        try await core.store.failLoginChallenge(id: challenge.id, maxAttempts: Self.challengeAttempts)
        await accounts.recordLoginFailure(email: user.email, userId: user.id, reason: "twoFactor")
        throw Self.invalidSignInCode
    }

    /// The "new sign-in" mail (`mail.signInNotice`), when none of the user's open sessions came
    /// from this address and browser.
    /// `.mailedCode` when `code` is the one mailed for `challenge`; nil when it is not;
    /// `mailedCodeExpired` when none is live.
    func mailedProof(_ code: String, challenge: LoginChallenge) async throws -> TwoFactorProof? {
        guard let mailed = try await core.store.loginCode(challengeId: challenge.id), mailed.expiresAt > Date() else {
            throw Self.mailedCodeExpired
        }
        let digits = TwoFactor.digits(code)
        guard digits.utf8.count == 6,
            Secrets.constantTimeEquals(core.secretKey.hash("\(challenge.id):\(digits)"), mailed.codeHash)
        else { return nil }
        return .mailedCode
    }

    func signInNotice(for user: User, ip: String?, userAgent: String?) async throws -> [OutboxMail] {
        guard core.settings.mail.signInNotice else { return [] }
        let agent = userAgent.map { String($0.prefix(512)) }
        if try await core.sessions.list(userId: user.id).contains(where: { $0.ip == ip && $0.userAgent == agent }) {
            return []
        }
        return [
            try accounts.mail(
                "new-sign-in",
                to: user.email,
                subject: "New sign-in to your \(core.settings.mail.productName) account",
                values: ["time": Timestamp.string(Date()), "ip": ip ?? "unknown", "userAgent": userAgent ?? "unknown"]
            )
        ]
    }
}
