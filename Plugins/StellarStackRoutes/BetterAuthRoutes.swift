import GatehouseCore
import HTTPTypes
import Hummingbird

/// Better Auth-compatible sign-in for StellarStack's web client, which speaks to its server with
/// the Better Auth client library: the email endpoints' request and response shapes, errors as
/// `{code, message}`, and Better Auth's session cookie. The rules are the core's: the same
/// policies (flags, geo-blocking, passwords, rate limits, lockout, 2FA) as everywhere else.
extension StellarStackRoutes {
    struct SignUpRequest: Decodable {
        var name: String
        var email: String
        var password: String
        var image: String?
        var rememberMe: Bool?
        var callbackURL: String?
    }

    struct SignInRequest: Decodable {
        var email: String
        var password: String
        var rememberMe: Bool?
        var callbackURL: String?
    }

    struct CodeRequest: Decodable {
        var code: String
        var trustDevice: Bool?
    }

    /// Better Auth's two-factor plugin keeps the pending sign-in in this cookie.
    static let twoFactorCookie = "better-auth.two_factor"
    /// ... and a browser that may skip the second factor in this one (30 days, used once: each
    /// sign-in with it gives a new one).
    static let trustDeviceCookie = "better-auth.trust_device"

    static func trustDeviceCookie(_ token: String?, core: Core) -> Cookie {
        Cookie(
            name: trustDeviceCookie,
            value: token ?? "",
            maxAge: token == nil ? 0 : Int(SignIns.trustedDeviceLifetime),
            path: "/",
            secure: core.settings.server.secureCookies,
            httpOnly: true,
            sameSite: .lax
        )
    }

    /// The user as Better Auth shows it, with the two-factor plugin's `twoFactorEnabled` (what
    /// a panel reads to show whether 2FA is on).
    static func betterAuthUser(_ user: User) -> JSONValue {
        .object([
            ("id", .string(user.id)),
            ("email", .string(user.email)),
            ("name", .string(name(user))),
            ("image", .string(user.avatarUrl)),
            ("emailVerified", .bool(user.emailVerified)),
            ("createdAt", .date(user.createdAt)),
            ("updatedAt", .date(user.updatedAt)),
            ("twoFactorEnabled", .bool(user.twoFactorEnabled)),
        ])
    }

    /// Better Auth's answer to a callback URL off the allowed origins (its origin check).
    static let invalidCallbackURL: GatehouseError = {
        var error = GatehouseError.forbidden("Invalid callbackURL")
        error.replacementBody = .object([("code", "INVALID_CALLBACK_URL"), ("message", "Invalid callbackURL")])
        return error
    }()

    /// Refuses a `callbackURL` that would send the client off the panel (an open redirect).
    static func checkCallbackURL(_ url: String?, core: Core) throws {
        guard let url else { return }
        guard Validate.isSafeRedirect(url, allowedOrigins: core.settings.server.allowedOrigins) else {
            throw invalidCallbackURL
        }
    }

    /// Our error, in Better Auth's shape and with its codes where it has one (chosen by our
    /// error and issue codes, never by a message's wording).
    static func betterAuthError(_ error: GatehouseError) -> GatehouseError {
        var status = error.status
        let code: String
        var message = error.message
        switch error.code {
        case .invalidCredentials:
            code = "INVALID_EMAIL_OR_PASSWORD"
        case .emailTaken:
            (status, code, message) = (
                .unprocessableContent, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
                "User already exists. Use another email."
            )
        case .accountSuspended:
            // As the admin plugin (which StellarStack's server enables) refuses a banned user.
            (code, message) = (
                "BANNED_USER",
                "You have been banned from this application. Please contact support if you believe this is an error."
            )
        case .rateLimited:
            code = "TOO_MANY_REQUESTS"
        case .wrongPassword:
            (status, code, message) = (.badRequest, "INVALID_PASSWORD", "Invalid password")
        case .invalidCode:
            (status, code, message) = (.unauthorized, "INVALID_CODE", "Invalid code")
        case .codeExpired:
            (status, code, message) = (.badRequest, "OTP_HAS_EXPIRED", "OTP has expired")
        case .invalidChallenge:
            (status, code, message) = (.unauthorized, "INVALID_TWO_FACTOR_COOKIE", "Invalid two factor cookie")
        case .invalidToken:
            (status, code, message) = (.badRequest, "INVALID_TOKEN", "Invalid token")
        case .alreadyVerified:
            (status, code, message) = (.badRequest, "EMAIL_ALREADY_VERIFIED", "Email is already verified")
        case .twoFactorNotEnabled:
            (status, code, message) = (.badRequest, "TWO_FACTOR_NOT_ENABLED", "Two factor isn't enabled")
        case .twoFactorNotSetUp:
            (status, code, message) = (.badRequest, "TOTP_NOT_ENABLED", "TOTP not enabled")
        case .validationFailed:
            let details = error.details ?? []
            if details.contains(where: { $0.field == "email" }) {
                (code, message) = ("INVALID_EMAIL", "Invalid email")
            } else if details.contains(where: { $0.field == "password" && $0.code == .tooShort }) {
                (code, message) = ("PASSWORD_TOO_SHORT", "Password too short")
            } else if details.contains(where: { $0.field == "password" && $0.code == .tooLong }) {
                (code, message) = ("PASSWORD_TOO_LONG", "Password too long")
            } else {
                code = "VALIDATION_ERROR"
                message = details.map { "\($0.field) \($0.message)" }.joined(separator: "; ")
            }
        default:
            code = error.status.reasonPhrase.uppercased().replacingOccurrences(of: " ", with: "_")
        }
        var translated = GatehouseError(status, message, code: error.code, headers: error.headers)
        translated.replacementBody = .object([("code", .string(code)), ("message", .string(message))])
        return translated
    }

    /// Runs a handler, answering its refusals in Better Auth's shape.
    static func speakingBetterAuth(_ body: () async throws -> JSONReply) async throws -> JSONReply {
        do {
            return try await body()
        } catch let error as GatehouseError {
            if error.replacementBody != nil { throw error }
            throw betterAuthError(error)
        }
    }

    /// A signed-in reply: the body, our cookie and Better Auth's, and the token in
    /// `set-auth-token` as Better Auth's bearer plugin sends it (for clients without cookies).
    static func withSessionCookies(_ body: JSONValue, token: String, persistent: Bool, core: Core) -> JSONReply {
        let settings = core.settings
        var headers = HTTPFields()
        headers[setAuthToken] = token
        headers[.accessControlExposeHeaders] = "set-auth-token"
        return JSONReply(
            body,
            headers: headers,
            cookies: sessionCookieNames(core: core).map {
                SessionCookie.make(token: token, settings: settings, name: $0, persistent: persistent)
            }
        )
    }

    static let setAuthToken = HTTPField.Name("set-auth-token")!

    /// Better Auth's answer when no mail sender is set up for codes (`features.twoFactorByMail`).
    static let otpNotConfigured = betterAuthRefusal(.badRequest, "OTP_NOT_CONFIGURED", "otp isn't configured")

    static func mountBetterAuth(on router: RouterGroup<GatehouseContext>, core: Core) {
        let auth = router.group("api/auth").add(middleware: BetterAuthOriginCheck(core: core))
        mountBetterAuthAccount(on: auth, core: core)
        mountBetterAuthTwoFactor(on: auth, core: core)
        mountBetterAuthAdmin(on: auth, core: core)
        mountBetterAuthPasskeys(on: auth, core: core)

        auth.post("sign-up/email") { request, context in
            try await speakingBetterAuth {
                let body = try await request.decodeJSON(SignUpRequest.self, context: context)
                try checkCallbackURL(body.callbackURL, core: core)
                let name = body.name.trimmingCharacters(in: .whitespacesAndNewlines)
                if let issue = Validate.name(name, field: "name") { throw GatehouseError.validation([issue]) }
                let (firstName, lastName) = Validate.nameParts(name)
                let user = try await core.registrations.register(
                    Registration(
                        email: body.email,
                        password: body.password,
                        firstName: firstName,
                        lastName: lastName,
                        displayName: name,
                        avatarUrl: body.image
                    ),
                    from: context.origin(of: request)
                )
                // Better Auth signs the new account in (its autoSignIn default), unless sign-in
                // is switched off: then, as with Better Auth's own refusals, the token is null.
                guard
                    let token = try await core.signIns.signInAfterSignUp(
                        user,
                        clientIP: context.clientIP,
                        userAgent: request.headers[.userAgent]
                    )
                else {
                    return JSONReply(.object([("token", .null), ("user", betterAuthUser(user))]))
                }
                return withSessionCookies(
                    .object([("token", .string(token)), ("user", betterAuthUser(user))]),
                    token: token,
                    persistent: body.rememberMe ?? true,
                    core: core
                )
            }
        }

        auth.post("sign-in/email") { request, context in
            try await speakingBetterAuth {
                let body = try await request.decodeJSON(SignInRequest.self, context: context)
                try checkCallbackURL(body.callbackURL, core: core)
                if let issue = Validate.email(body.email).1 { throw GatehouseError.validation([issue]) }
                let trusted = request.cookies[trustDeviceCookie]?.value
                let (result, newDevice) = try await core.signIns.signIn(
                    email: body.email,
                    password: body.password,
                    clientIP: context.clientIP,
                    userAgent: request.headers[.userAgent],
                    trustedDevice: trusted
                )
                switch result {
                case .twoFactorRequired(let tempToken):
                    // As Better Auth's two-factor plugin answers; the code goes to
                    // /api/auth/two-factor/verify-totp (or verify-backup-code) with this cookie.
                    let cookie = Cookie(
                        name: twoFactorCookie,
                        value: tempToken,
                        maxAge: Int(SignIns.challengeLifetime),
                        path: "/",
                        secure: core.settings.server.secureCookies,
                        httpOnly: true,
                        sameSite: .lax
                    )
                    // A trust cookie that did not count is cleared.
                    return JSONReply(
                        .object([("twoFactorRedirect", true)]),
                        cookies: [cookie] + (trusted == nil ? [] : [trustDeviceCookie(nil, core: core)])
                    )
                case .signedIn(let user, let token):
                    var members: [(String, JSONValue)] = [
                        ("redirect", .bool(body.callbackURL != nil)), ("token", .string(token)),
                    ]
                    if let url = body.callbackURL { members.append(("url", .string(url))) }
                    members.append(("user", betterAuthUser(user)))
                    var reply = withSessionCookies(
                        .object(members),
                        token: token,
                        persistent: body.rememberMe ?? true,
                        core: core
                    )
                    if let newDevice { reply.cookies.append(trustDeviceCookie(newDevice, core: core)) }
                    return reply
                }
            }
        }

        // A code by mail instead of the app's, for the sign-in of the two_factor cookie.
        auth.post("two-factor/send-otp") { request, context in
            try await speakingBetterAuth {
                guard core.runtime.features.isOn(twoFactorByMail) else { throw otpNotConfigured }
                guard let tempToken = request.cookies[twoFactorCookie]?.value else { throw SignIns.invalidChallenge }
                try await core.signIns.sendSignInCode(tempToken: tempToken, clientIP: context.clientIP)
                return JSONReply(.object([("status", true)]))
            }
        }

        for path in ["two-factor/verify-totp", "two-factor/verify-backup-code", "two-factor/verify-otp"] {
            auth.post(RouterPath(stringLiteral: path)) { request, context in
                try await speakingBetterAuth {
                    let body = try await request.decodeJSON(CodeRequest.self, context: context)
                    if path == "two-factor/verify-otp", !core.runtime.features.isOn(twoFactorByMail) {
                        throw otpNotConfigured
                    }
                    guard let tempToken = request.cookies[twoFactorCookie]?.value else {
                        // Signed in instead: a TOTP code confirms the 2FA two-factor/enable began.
                        guard path == "two-factor/verify-totp", let principal = context.principal else {
                            throw SignIns.invalidChallenge
                        }
                        return try await confirmTwoFactor(principal, code: body.code, request, context, core: core)
                    }
                    let user: User
                    let token: String
                    do {
                        (user, token) = try await core.signIns.completeSignIn(
                            tempToken: tempToken,
                            code: body.code,
                            clientIP: context.clientIP,
                            userAgent: request.headers[.userAgent],
                            byMail: path == "two-factor/verify-otp"
                        )
                    } catch let error as GatehouseError
                        where error.code == .invalidCode && path == "two-factor/verify-backup-code"
                    {
                        throw betterAuthRefusal(.unauthorized, "INVALID_BACKUP_CODE", "Invalid backup code")
                    }
                    var reply = withSessionCookies(
                        .object([("token", .string(token)), ("user", betterAuthUser(user))]),
                        token: token,
                        persistent: true,
                        core: core
                    )
                    reply.cookies.append(
                        Cookie(name: twoFactorCookie, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .lax)
                    )
                    // Signed in either way: a device that cannot be remembered now is not a failure.
                    if body.trustDevice == true, let device = try? await core.signIns.trustDevice(of: user) {
                        reply.cookies.append(trustDeviceCookie(device, core: core))
                    }
                    return reply
                }
            }
        }

        // Without a session: 200 and `null`, as Better Auth answers.
        auth.get("get-session") { _, context in
            guard let principal = context.principal, let sessionId = principal.sessionId else {
                return JSONReply(.null)
            }
            if principal.user.suspended { return JSONReply(.null) }
            guard
                let session = try await core.sessions.list(userId: principal.user.id).first(where: {
                    $0.id == sessionId
                })
            else { return JSONReply(.null) }
            return JSONReply(
                .object([
                    ("session", betterAuthSession(session, withToken: false)),
                    ("user", betterAuthUser(principal.user)),
                ])
            )
        }

        auth.post("sign-out") { _, context in
            try await speakingBetterAuth {
                if let principal = context.principal {
                    guard let sessionId = principal.sessionId else { throw GatehouseError.requiresSession }
                    try await core.sessions.revoke(sessionId: sessionId, userId: principal.user.id)
                }
                let settings = core.settings
                return JSONReply(
                    .success,
                    cookies: sessionCookieNames(core: core).map {
                        SessionCookie.clear(settings: settings, name: $0)
                    }
                )
            }
        }
    }
}
