import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Better Auth's core account routes, as StellarStack's web client calls them: sessions,
/// profile, password, email verification, password reset, account deletion. Shapes, statuses and
/// codes are Better Auth's; every rule is the core's (the same checks, lockout, policies, mails
/// and audit as the other surfaces).
extension StellarStackRoutes {
    struct TokenRequest: Decodable {
        var token: String
    }

    struct ChangePasswordRequest: Decodable {
        var currentPassword: String
        var newPassword: String
        var revokeOtherSessions: Bool?
    }

    struct ChangeEmailRequest: Decodable {
        var newEmail: String
        var callbackURL: String?
    }

    struct DeleteUserRequest: Decodable {
        var password: String?
        var callbackURL: String?
    }

    struct VerificationEmailRequest: Decodable {
        var email: String
        var callbackURL: String?
    }

    struct ResetRequest: Decodable {
        var email: String
        var redirectTo: String?
    }

    struct NewPasswordRequest: Decodable {
        var newPassword: String
        var token: String?
    }

    /// Better Auth's `freshAge`: list-sessions, and deleting the account without a password,
    /// need a session started within the last day.
    static let freshAge: TimeInterval = 24 * 3600

    static let resetRequested: JSONValue = .object([
        ("status", true),
        ("message", "If this email exists in our system, check your email for the reset link"),
    ])

    /// An error in Better Auth's shape, with its code and message.
    static func betterAuthRefusal(_ status: HTTPResponse.Status, _ code: String?, _ message: String)
        -> GatehouseError
    {
        var error = GatehouseError(status, message)
        var members: [(String, JSONValue)] = [("message", .string(message))]
        if let code { members.insert(("code", .string(code)), at: 0) }
        error.replacementBody = .object(members)
        return error
    }

    /// A session as Better Auth shows it (with the admin plugin's `impersonatedBy`). We keep no
    /// session's token (only its hash), so in lists `token` carries the session's id: what
    /// `revoke-session` takes back; a reply that has the real token passes it as `token`.
    /// get-session shows no `token` (`withToken: false`).
    static func betterAuthSession(_ session: Session, withToken: Bool = true, token: String? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(session.id)),
            ("userId", .string(session.userId)),
            ("expiresAt", .date(session.expiresAt)),
            ("createdAt", .date(session.createdAt)),
            ("updatedAt", .date(session.lastSeenAt)),
            ("ipAddress", .string(session.ip)),
            ("userAgent", .string(session.userAgent)),
            ("impersonatedBy", .string(session.impersonatedBy)),
        ]
        if withToken { members.insert(("token", .string(token ?? session.id)), at: 1) }
        return .object(members)
    }

    /// Replaces the caller's session `sessionId` with a new one (it keeps the old one's start)
    /// and answers `{token, user}` with the new session's cookies.
    static func replacingSession(
        _ sessionId: String,
        of user: User,
        _ request: Request,
        _ context: GatehouseContext,
        core: Core
    ) async throws -> JSONReply {
        let (token, _) = try await core.sessions.replace(
            sessionId,
            of: user,
            ip: context.clientIP,
            userAgent: request.headers[.userAgent]
        )
        return withSessionCookies(
            .object([("token", .string(token)), ("user", betterAuthUser(user))]),
            token: token,
            persistent: true,
            core: core
        )
    }

    /// The caller's session (signed in with a session, not an API key) and its record.
    static func currentSession(_ context: GatehouseContext, core: Core) async throws -> (Principal, Session) {
        let principal = try context.requireSession()
        guard
            let session = try await core.sessions.list(userId: principal.user.id).first(where: {
                $0.id == principal.sessionId
            })
        else { throw GatehouseError.unauthorized }
        return (principal, session)
    }

    /// `url` with `name=value` added to its query.
    static func adding(_ name: String, _ value: String, to url: String) -> String {
        let escaped = value.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? value
        return url + (url.contains("?") ? "&" : "?") + "\(name)=\(escaped)"
    }

    /// A 302 to `location`, with an empty body.
    static func redirect(to location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.contentLength] = "0"
        return Response(status: .found, headers: headers)
    }

    /// The link of a change-email mail: Better Auth's `verify-email` on the panel's origin
    /// (StellarStack serves `/api/auth` there), then on to `callbackURL`.
    static func emailLink(callbackURL: String?, core: Core) -> @Sendable (String) -> String {
        let base = (Origin.of(core.settings.mail.panelURL) ?? "") + "/api/auth/verify-email"
        let callback = callbackURL ?? "/"
        return { token in adding("callbackURL", callback, to: adding("token", token, to: base)) }
    }

    /// A relative link made absolute against the panel (`mail.panelURL`'s origin).
    static func absolute(_ url: String, core: Core) -> String {
        guard url.hasPrefix("/") else { return url }
        return (Origin.of(core.settings.mail.panelURL) ?? "") + url
    }

    static func mountBetterAuthAccount(on auth: RouterGroup<GatehouseContext>, core: Core) {
        mountBetterAuthSessions(on: auth, core: core)
        mountBetterAuthProfile(on: auth, core: core)
        mountBetterAuthVerification(on: auth, core: core)
        mountBetterAuthReset(on: auth, core: core)
    }

    static func mountBetterAuthSessions(on auth: RouterGroup<GatehouseContext>, core: Core) {
        auth.get("list-sessions") { _, context in
            try await speakingBetterAuth {
                let (principal, session) = try await currentSession(context, core: core)
                guard Date().timeIntervalSince(session.createdAt) < freshAge else {
                    throw betterAuthRefusal(.forbidden, "SESSION_NOT_FRESH", "Session is not fresh")
                }
                let sessions = try await core.sessions.list(userId: principal.user.id)
                return JSONReply(.array(sessions.map { betterAuthSession($0) }))
            }
        }

        // Ends one of the caller's sessions, named by its id (as list-sessions shows it) or by
        // its token. Better Auth answers `{status: true}` whether or not there was one.
        auth.post("revoke-session") { request, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                let body = try await request.decodeJSON(TokenRequest.self, context: context)
                let hash = Secrets.sha256Hex(body.token)
                if let session = try await core.sessions.list(userId: principal.user.id).first(where: {
                    $0.id == body.token || $0.tokenHash == hash
                }) {
                    try await core.sessions.revoke(sessionId: session.id, userId: principal.user.id)
                }
                return JSONReply(.object([("status", true)]))
            }
        }

        auth.post("revoke-sessions") { _, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                try await core.sessions.revokeAll(userId: principal.user.id)
                return JSONReply(.object([("status", true)]))
            }
        }

        auth.post("revoke-other-sessions") { _, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                try await core.sessions.revokeAll(userId: principal.user.id, keeping: principal.sessionId)
                return JSONReply(.object([("status", true)]))
            }
        }
    }

    static func mountBetterAuthProfile(on auth: RouterGroup<GatehouseContext>, core: Core) {
        // `{name?, image?}`: the name is the display name (and gives first and last name).
        auth.post("update-user") { request, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                let body = try await request.decodeJSON(JSONValue.self, context: context)
                guard case .object(let members) = body else {
                    throw betterAuthRefusal(.badRequest, "BODY_MUST_BE_AN_OBJECT", "Body must be an object")
                }
                let fields = Dictionary(members, uniquingKeysWith: { $1 })
                if fields["email"] != nil {
                    throw betterAuthRefusal(.badRequest, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated")
                }
                var changes = ProfileChanges()
                switch fields["name"] {
                case nil: break
                case .string(let text)?:
                    let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    if let issue = Validate.name(name, field: "name") { throw GatehouseError.validation([issue]) }
                    let (first, last) = Validate.nameParts(name)
                    (changes.firstName, changes.lastName, changes.displayName) = (first, last, .some(name))
                default:
                    throw GatehouseError.validation(field: "name", "must be a string")
                }
                switch fields["image"] {
                case nil: break
                case .null?: changes.avatarUrl = .some(nil)
                case .string(let url)?: changes.avatarUrl = .some(url)
                default: throw GatehouseError.validation(field: "image", "must be a string or null")
                }
                guard changes.displayName != nil || changes.avatarUrl != nil else {
                    throw betterAuthRefusal(.badRequest, nil, "No fields to update")
                }
                _ = try await core.profiles.update(principal.user.id, by: principal, changes: changes)
                return JSONReply(.object([("status", true)]))
            }
        }

        // The account's other sessions end with any password change (the core's rule);
        // `revokeOtherSessions` also replaces this one with a new session.
        auth.post("change-password") { request, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                let body = try await request.decodeJSON(ChangePasswordRequest.self, context: context)
                var changes = ProfileChanges()
                changes.password = body.newPassword
                changes.currentPassword = body.currentPassword
                let user = try await core.profiles.update(principal.user.id, by: principal, changes: changes)
                guard body.revokeOtherSessions == true, let sessionId = principal.sessionId else {
                    return JSONReply(.object([("token", .null), ("user", betterAuthUser(user))]))
                }
                return try await replacingSession(sessionId, of: user, request, context, core: core)
            }
        }

        // By mailed links, not the password: a verified account confirms from its old address,
        // then the new address's link makes the change (`GET verify-email`). `{status: true}`
        // also when the address has an account (no mail then).
        auth.post("change-email") { request, context in
            try await speakingBetterAuth {
                let principal = try context.requireSession()
                let body = try await request.decodeJSON(ChangeEmailRequest.self, context: context)
                try checkCallbackURL(body.callbackURL, core: core)
                let link = emailLink(callbackURL: body.callbackURL, core: core)
                do {
                    try await core.emailChanges.request(
                        for: principal.user,
                        newEmail: body.newEmail,
                        clientIP: context.clientIP,
                        link: link
                    )
                } catch let error as GatehouseError where error.code == .unchanged {
                    throw betterAuthRefusal(.badRequest, nil, "Email is the same")
                }
                return JSONReply(.object([("status", true)]))
            }
        }

        // With the password, or from a session started within the last day. The same rules as
        // DELETE /api/account/me (servers owned, the last rootAdmin).
        auth.post("delete-user") { request, context in
            try await speakingBetterAuth {
                let (principal, session) = try await currentSession(context, core: core)
                let body = try await request.decodeOptionalJSON(DeleteUserRequest.self, context: context)
                try checkCallbackURL(body?.callbackURL, core: core)
                if let password = body?.password {
                    guard try await core.accounts.confirmPassword(password, of: principal.user, reason: "password")
                    else { throw Accounts.wrongCurrentPassword }
                } else if Date().timeIntervalSince(session.createdAt) >= freshAge {
                    throw betterAuthRefusal(
                        .badRequest,
                        "SESSION_EXPIRED",
                        "Session expired. Re-authenticate to perform this action."
                    )
                }
                try await core.accountAdmin.delete(principal.user.id, by: principal, via: .own)
                let settings = core.settings
                return JSONReply(
                    .object([("success", true), ("message", "User deleted")]),
                    cookies: sessionCookieNames(core: core).map { SessionCookie.clear(settings: settings, name: $0) }
                )
            }
        }
    }

    static func mountBetterAuthVerification(on auth: RouterGroup<GatehouseContext>, core: Core) {
        // Signed in: for the caller's own address. Not signed in: `{status: true}` whatever the
        // address, so that it tells nobody which accounts exist or are verified.
        auth.post("send-verification-email") { request, context in
            try await speakingBetterAuth {
                let body = try await request.decodeJSON(VerificationEmailRequest.self, context: context)
                try checkCallbackURL(body.callbackURL, core: core)
                let (email, issue) = Validate.email(body.email)
                if let issue { throw GatehouseError.validation([issue]) }
                if let principal = context.principal {
                    guard principal.user.email.lowercased() == email.lowercased() else {
                        throw betterAuthRefusal(.badRequest, "EMAIL_MISMATCH", "Email mismatch")
                    }
                    try await core.registrations.sendNewVerification(for: principal.user, clientIP: context.clientIP)
                } else {
                    // Looked up and sent after the answer, which is the same (and as fast) for
                    // every address; refusals (a rate limit) stay unsaid.
                    let clientIP = context.clientIP
                    Task {
                        guard let user = try? await core.accounts.user(email: email), !user.emailVerified else {
                            return
                        }
                        try? await core.registrations.sendNewVerification(for: user, clientIP: clientIP)
                    }
                }
                return JSONReply(.object([("status", true)]))
            }
        }

        // The mailed link's token. With a callbackURL: a 302 there (with `?error=CODE` when the
        // token is bad); without: JSON.
        auth.get("verify-email") { request, context -> Response in
            let token = request.uri.queryParameters.get("token").map { String($0) } ?? ""
            let callbackURL = request.uri.queryParameters.get("callbackURL").map { String($0) }
            try checkCallbackURL(callbackURL, core: core)
            let target = callbackURL.map { absolute($0, core: core) }
            var changed: User?
            do {
                do {
                    try await core.registrations.verifyEmail(token: token)
                } catch let error as GatehouseError where error.code == .invalidToken {
                    // Not an address verification: a step of a change of address, perhaps.
                    changed = try await core.emailChanges.follow(
                        token: token,
                        link: emailLink(callbackURL: callbackURL, core: core)
                    )
                }
            } catch let error as GatehouseError where error.code == .invalidToken {
                // A used token is unknown too (it is deleted once used).
                if let target { return redirect(to: adding("error", "INVALID_TOKEN", to: target)) }
                throw betterAuthRefusal(.unauthorized, "INVALID_TOKEN", "Invalid token")
            }
            if let target { return redirect(to: target) }
            let user: JSONValue = changed.map(betterAuthUser) ?? .null
            return try JSONReply(.object([("status", true), ("user", user)])).response(from: request, context: context)
        }
    }

    static func mountBetterAuthReset(on auth: RouterGroup<GatehouseContext>, core: Core) {
        // The reset mail's link leads to `redirectTo` with `?token=`, or to the panel's page.
        // The answer is the same whether or not the address has an account.
        for path in ["request-password-reset", "forget-password"] {
            auth.post(RouterPath(stringLiteral: path)) { request, context in
                try await speakingBetterAuth {
                    let body = try await request.decodeJSON(ResetRequest.self, context: context)
                    var link: (@Sendable (String) -> String)?
                    if let redirectTo = body.redirectTo {
                        guard
                            Validate.isSafeRedirect(redirectTo, allowedOrigins: core.settings.server.allowedOrigins)
                        else { throw betterAuthRefusal(.forbidden, "INVALID_REDIRECT_URL", "Invalid redirectURL") }
                        let target = absolute(redirectTo, core: core)
                        link = { token in adding("token", token, to: target) }
                    }
                    try await core.passwordResets.requestPasswordReset(
                        email: body.email,
                        clientIP: context.clientIP,
                        link: link
                    )
                    return JSONReply(resetRequested)
                }
            }
        }

        auth.post("reset-password") { request, context in
            try await speakingBetterAuth {
                let body = try await request.decodeJSON(NewPasswordRequest.self, context: context)
                let queryToken = request.uri.queryParameters.get("token").map { String($0) }
                guard let token = body.token ?? queryToken else {
                    throw betterAuthRefusal(.badRequest, "INVALID_TOKEN", "Invalid token")
                }
                try await core.passwordResets.resetPassword(token: token, password: body.newPassword)
                return JSONReply(.object([("status", true)]))
            }
        }

        // A reset link in Better Auth's form: on to `callbackURL` with `?token=`, or with
        // `?error=INVALID_TOKEN` when the token cannot be used.
        auth.get("reset-password/:token") { request, context -> Response in
            let token = try context.parameters.require("token")
            let callbackParameter = request.uri.queryParameters.get("callbackURL").map { String($0) }
            guard let callbackURL = callbackParameter else {
                throw betterAuthRefusal(
                    .badRequest,
                    "VALIDATION_ERROR",
                    "[query.callbackURL] Invalid input: expected string, received undefined"
                )
            }
            try checkCallbackURL(callbackURL, core: core)
            let target = absolute(callbackURL, core: core)
            guard try await core.passwordResets.isUsable(token: token) else {
                return redirect(to: adding("error", "INVALID_TOKEN", to: target))
            }
            return redirect(to: adding("token", token, to: target))
        }
    }
}
