import Foundation
import GatehouseCore
import HTTPTypes
import Hummingbird

/// Better Auth's passkey plugin (`passkeyClient()`): WebAuthn registration and sign-in with the
/// options and responses @simplewebauthn produces and reads, the ceremony's challenge in
/// Better Auth's `better-auth-passkey` cookie, and the plugin's error codes. The checks are the
/// core's (`Passkeys`, `WebAuthn`); the relying party is `passkeys.*`.
extension StellarStackRoutes {
    struct VerifyRegistrationRequest: Decodable {
        var response: PasskeyRegistrationResponse
        var name: String?
        /// Better Auth's option to sign in as well; the caller is signed in already here.
        var createSession: Bool?
    }

    struct VerifyAuthenticationRequest: Decodable {
        var response: PasskeyAuthenticationResponse
    }

    struct PasskeyIdRequest: Decodable {
        var id: String
    }

    struct RenamePasskeyRequest: Decodable {
        var id: String
        var name: String
    }

    /// How long a client has for a ceremony (the options' `timeout`, in milliseconds).
    static let ceremonyTimeout = 60_000

    static func passkeyCookieName(core: Core) -> String {
        core.settings.server.secureCookies
            ? "__Secure-better-auth.better-auth-passkey" : "better-auth.better-auth-passkey"
    }

    static func passkeyCookie(_ token: String, core: Core) -> Cookie {
        Cookie(
            name: passkeyCookieName(core: core),
            value: token,
            maxAge: Int(Passkeys.challengeLifetime),
            path: "/",
            secure: core.settings.server.secureCookies,
            httpOnly: true,
            sameSite: .lax
        )
    }

    /// A passkey as the plugin shows it: the COSE key in base64, transports comma-separated.
    static func betterAuthPasskey(_ passkey: Passkey) -> JSONValue {
        .object([
            ("id", .string(passkey.id)),
            ("name", .string(passkey.name)),
            ("publicKey", .string(Data(passkey.publicKey).base64EncodedString())),
            ("userId", .string(passkey.userId)),
            ("credentialID", .string(passkey.credentialID)),
            ("counter", .int(passkey.counter)),
            ("deviceType", .string(passkey.deviceType)),
            ("backedUp", .bool(passkey.backedUp)),
            ("transports", .string(passkey.transports.joined(separator: ","))),
            ("createdAt", .date(passkey.createdAt)),
            ("aaguid", .string(passkey.aaguid)),
        ])
    }

    /// A credential descriptor for `excludeCredentials` / `allowCredentials`.
    static func descriptor(_ passkey: Passkey) -> JSONValue {
        var members: [(String, JSONValue)] = [("id", .string(passkey.credentialID))]
        if !passkey.transports.isEmpty {
            members.append(("transports", .array(passkey.transports.map { .string($0) })))
        }
        members.append(("type", "public-key"))
        return .object(members)
    }

    /// The plugin's codes for the core's refusals.
    static func passkeyError(_ refusal: PasskeyRefusal, _ context: GatehouseContext) -> GatehouseError {
        switch refusal {
        case .challengeNotFound:
            return betterAuthRefusal(.badRequest, "CHALLENGE_NOT_FOUND", "Challenge not found")
        case .notYours:
            return betterAuthRefusal(
                .unauthorized,
                "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY",
                "You are not allowed to register this passkey"
            )
        case .registrationFailed(let reason):
            context.logger.info("passkey registration refused: \(reason)")
            return betterAuthRefusal(.badRequest, "FAILED_TO_VERIFY_REGISTRATION", "Failed to verify registration")
        case .previouslyRegistered:
            return betterAuthRefusal(.badRequest, "PREVIOUSLY_REGISTERED", "Previously registered")
        case .limitReached:
            return betterAuthRefusal(
                .badRequest,
                "TOO_MANY_PASSKEYS",
                "An account holds at most \(Passkeys.maxPerUser) passkeys"
            )
        case .notFound:
            return betterAuthRefusal(.notFound, "PASSKEY_NOT_FOUND", "Passkey not found")
        case .authenticationFailed(let reason, let badSignature):
            context.logger.info("passkey sign-in refused: \(reason)")
            return betterAuthRefusal(
                badSignature ? .unauthorized : .badRequest,
                "AUTHENTICATION_FAILED",
                "Authentication failed"
            )
        case .busy:
            var error = betterAuthRefusal(
                .tooManyRequests,
                "TOO_MANY_REQUESTS",
                "Too many passkey sign-ins are under way; try again shortly"
            )
            error.headers[.retryAfter] = "60"
            return error
        }
    }

    /// Runs a passkey handler: refusals in the plugin's codes, the rest in Better Auth's shape.
    static func speakingPasskeys(
        _ context: GatehouseContext,
        _ body: () async throws -> JSONReply
    ) async throws -> JSONReply {
        try await speakingBetterAuth {
            do {
                return try await body()
            } catch let refusal as PasskeyRefusal {
                throw passkeyError(refusal, context)
            }
        }
    }

    static func mountBetterAuthPasskeys(on auth: RouterGroup<GatehouseContext>, core: Core) {
        let passkey = auth.group("passkey")

        // Needs a fresh session (a day old at most), as Better Auth's; never an impersonation:
        // a passkey would outlast it.
        passkey.get("generate-register-options") { request, context in
            try await speakingPasskeys(context) {
                let principal = try await freshSession(context, core: core)
                let party = relyingParty(core: core)
                let (token, challenge, existing) = try await core.passkeys.startRegistration(by: principal)
                let query = request.uri.queryParameters
                var selection: [(String, JSONValue)] = [
                    ("residentKey", "preferred"), ("userVerification", "preferred"),
                ]
                switch query.get("authenticatorAttachment").map({ String($0) }) {
                case nil: break
                case let value? where value == "platform" || value == "cross-platform":
                    selection.append(("authenticatorAttachment", .string(value)))
                default:
                    throw betterAuthRefusal(
                        .badRequest,
                        "VALIDATION_ERROR",
                        "[query.authenticatorAttachment] Invalid option: expected one of \"platform\"|\"cross-platform\""
                    )
                }
                selection.append(("requireResidentKey", false))
                let userName = query.get("name").map { String($0.prefix(Passkeys.maxNameLength)) }
                let options: JSONValue = .object([
                    ("challenge", .string(challenge)),
                    ("rp", .object([("name", .string(party.name)), ("id", .string(party.id))])),
                    (
                        "user",
                        .object([
                            ("id", .string(Secrets.base64URL(Array(principal.user.id.utf8)))),
                            ("name", .string(userName ?? principal.user.email)),
                            ("displayName", .string(principal.user.email)),
                        ])
                    ),
                    (
                        "pubKeyCredParams",
                        .array(
                            COSEKey.Algorithm.allCases.map {
                                .object([("alg", .int($0.rawValue)), ("type", "public-key")])
                            }
                        )
                    ),
                    ("timeout", .int(ceremonyTimeout)),
                    ("attestation", "none"),
                    ("excludeCredentials", .array(existing.map(descriptor))),
                    ("authenticatorSelection", .object(selection)),
                    ("extensions", .object([("credProps", true)])),
                    ("hints", .array([])),
                ])
                return JSONReply(options, cookies: [passkeyCookie(token, core: core)])
            }
        }

        passkey.post("verify-registration") { request, context in
            try await speakingPasskeys(context) {
                let principal = try await freshSession(context, core: core)
                let body = try await request.decodeJSON(VerifyRegistrationRequest.self, context: context)
                let added = try await core.passkeys.finishRegistration(
                    by: principal,
                    token: request.cookies[passkeyCookieName(core: core)]?.value,
                    response: body.response,
                    name: body.name,
                    party: relyingParty(core: core),
                    clientIP: context.clientIP
                )
                return JSONReply(betterAuthPasskey(added))
            }
        }

        // A signed-in caller is offered their own passkeys; anyone else, whatever the
        // authenticator holds for the site (a discoverable credential).
        passkey.get("generate-authenticate-options") { _, context in
            try await speakingPasskeys(context) {
                let party = relyingParty(core: core)
                let principal = context.principal.flatMap { $0.user.suspended ? nil : $0 }
                let (token, challenge, allowed) = try await core.passkeys.startAuthentication(
                    for: principal,
                    clientIP: context.clientIP
                )
                var options: [(String, JSONValue)] = [("rpId", .string(party.id)), ("challenge", .string(challenge))]
                if !allowed.isEmpty { options.append(("allowCredentials", .array(allowed.map(descriptor)))) }
                options += [("timeout", .int(ceremonyTimeout)), ("userVerification", "preferred")]
                return JSONReply(.object(options), cookies: [passkeyCookie(token, core: core)])
            }
        }

        passkey.post("verify-authentication") { request, context in
            try await speakingPasskeys(context) {
                let body = try await request.decodeJSON(VerifyAuthenticationRequest.self, context: context)
                let user: User
                let token: String
                do {
                    (user, token) = try await core.passkeys.authenticate(
                        token: request.cookies[passkeyCookieName(core: core)]?.value,
                        response: body.response,
                        party: relyingParty(core: core),
                        clientIP: context.clientIP,
                        userAgent: request.headers[.userAgent]
                    )
                } catch PasskeyRefusal.notFound {
                    // A sign-in with an unknown credential is a 401 in the plugin.
                    throw betterAuthRefusal(.unauthorized, "PASSKEY_NOT_FOUND", "Passkey not found")
                }
                guard let (session, _) = try await core.sessions.resolve(token: token) else {
                    throw GatehouseError.unauthorized
                }
                return withSessionCookies(
                    .object([("session", betterAuthSession(session, token: token)), ("user", betterAuthUser(user))]),
                    token: token,
                    persistent: true,
                    core: core
                )
            }
        }

        passkey.get("list-user-passkeys") { _, context in
            try await speakingPasskeys(context) {
                let principal = try context.requirePrincipal()
                return JSONReply(.array(try await core.passkeys.list(userId: principal.user.id).map(betterAuthPasskey)))
            }
        }

        passkey.post("delete-passkey") { request, context in
            try await speakingPasskeys(context) {
                let principal = try context.requirePrincipal()
                let body = try await request.decodeJSON(PasskeyIdRequest.self, context: context)
                try await core.passkeys.delete(body.id, by: principal)
                return JSONReply(.object([("status", true)]))
            }
        }

        passkey.post("update-passkey") { request, context in
            try await speakingPasskeys(context) {
                let principal = try context.requirePrincipal()
                let body = try await request.decodeJSON(RenamePasskeyRequest.self, context: context)
                let renamed = try await core.passkeys.rename(body.id, to: body.name, by: principal)
                return JSONReply(.object([("passkey", betterAuthPasskey(renamed))]))
            }
        }
    }

    /// The caller's own session, at most `freshAge` old and not an impersonation.
    static func freshSession(_ context: GatehouseContext, core: Core) async throws -> Principal {
        let (principal, session) = try await currentSession(context, core: core)
        guard Date().timeIntervalSince(session.createdAt) < freshAge else {
            throw betterAuthRefusal(.forbidden, "SESSION_NOT_FRESH", "Session is not fresh")
        }
        guard session.impersonatedBy == nil else {
            throw betterAuthRefusal(
                .forbidden,
                "YOU_ARE_NOT_ALLOWED_TO_REGISTER_THIS_PASSKEY",
                "You are not allowed to register this passkey"
            )
        }
        return principal
    }

    /// The relying party of the loaded module's `passkeys.*`.
    static func relyingParty(core: Core) -> RelyingParty {
        let module = core.module(StellarStackRoutes.self)
        return panelParty(
            id: module?.passkeyRPID,
            name: module?.passkeyRPName,
            origins: module?.passkeyOrigins,
            core: core
        )
    }
}
