import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// StellarStack's web client's calls made by a real Better Auth client: `better-auth-client`
/// from PyPI (a port of Better Auth's client, written elsewhere), driven by
/// `Tests/Support/better_auth_flow.py` through sign-up, the mailed verification link, sessions,
/// profile, password change, two-factor (enable, TOTP, backup codes, disable), a token-only
/// client, the origin check, a forgotten password, deleting the account, and the admin plugin as
/// a rootAdmin, an admin and a plain user.
@Suite struct BetterAuthClientTests {
    @Test func theBetterAuthClientWalksThroughAnAccount() async throws {
        try await walk("better_auth_flow.py", features: "twoFactorByMail: true")
    }

    /// Passkeys through the client's passkey plugin with software authenticators
    /// (`Tests/Support/passkey_flow.py`): registration, sign-in, replays, another site's
    /// assertion, ES256/EdDSA/RS256 with none and packed attestation, the counter, rename and
    /// delete, the lockout and a ban; then impersonation through the admin plugin.
    @Test func passkeysAndImpersonationThroughTheClient() async throws {
        try await walk("passkey_flow.py", features: "impersonation: true")
    }

    /// Runs a flow script of `Tests/Support/` against a server mailing to a real SMTP server,
    /// with a rootAdmin to sign in as and `features.<features>`; it must print its last step.
    func walk(_ script: String, features: String) async throws {
        let smtp = try await SMTPServer()
        defer { smtp.stop() }
        try await TestServer.run(yaml: smtpYAML(port: smtp.port) + "\nfeatures:\n  \(features)\n") { server in
            try await server.createUser("root@example.test", role: .rootAdmin)
            let flow = try ChildProcess(
                Paths.python,
                [
                    Paths.root.appendingPathComponent("Tests/Support/\(script)").path,
                    "--base", "http://127.0.0.1:\(server.port)",
                    "--maildir", smtp.maildir.path,
                    "--origin", "http://localhost:3000",
                    "--root-email", "root@example.test", "--root-password", TestServer.password,
                ]
            )
            let status = try await flow.wait(timeout: 600)
            #expect(status == 0, "\(flow.text)")
            #expect(flow.lines.contains("all steps passed"), "\(flow.text)")
        }
    }
}
