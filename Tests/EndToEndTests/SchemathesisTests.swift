import Foundation
import TestSupport
import Testing

/// The `gatehouse` executable against its own OpenAPI document with schemathesis (PyPI):
/// generated requests to every operation, anonymous, as a user (Bearer) and as a rootAdmin,
/// with the checks `not_a_server_error`, `status_code_conformance`,
/// `content_type_conformance`, `response_schema_conformance` and
/// `response_headers_conformance`. The signed-in runs leave out the operations that end the
/// caller's session or account (sign-outs, revocations, password changes, deletion,
/// impersonation, the admin's changes to other accounts, reload): they would sign the run out
/// halfway; the anonymous run covers them.
@Suite(.serialized) struct SchemathesisTests {
    static let checks = [
        "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
        "response_headers_conformance",
    ].joined(separator: ",")
    static let sessionEnding =
        "(logout|sign-out|revoke-|delete-user|change-password|/api/account/me|two-factor/(enable|disable)|2fa/"
        + "|reset-password|impersonat|ban-user|set-role|set-user-password|remove-user|/api/admin/reload)"

    func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) async throws -> (
        Int32, String
    ) {
        let child = try ChildProcess(Paths.gatehouse.path, arguments, environment: environment, stdin: stdin)
        return (try await child.wait(), child.text)
    }

    /// Run by `scripts/run-tests.sh` on its own, after the other suites (`SCHEMATHESIS_RUN=1`).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SCHEMATHESIS_RUN"] == "1", "run on its own by make test"))
    func theServiceConformsToItsDocument() async throws {
        let dir = try Paths.temporaryDirectory("e2e-schemathesis")
        let config = Paths.root.appendingPathComponent("etc/gatehouse.yaml").path
        let environment = [
            "GATEHOUSE_DATABASE_PATH": dir.appendingPathComponent("gatehouse.sqlite").path,
            "GATEHOUSE_SERVER_HOST": "127.0.0.1", "GATEHOUSE_SERVER_PORT": "0", "GATEHOUSE_METRICS_ENABLED": "false",
            "GATEHOUSE_POLICIES_RATE_LIMIT_GENERAL_LIMIT": "1000000",
            "GATEHOUSE_POLICIES_RATE_LIMIT_REGISTER_LIMIT": "1000000",
        ]
        for (email, role, password) in [
            ("root@example.com", "rootAdmin", "Adm1n!pass-phrase"), ("user@example.com", "user", "Us3r!pass-phrase"),
        ] {
            let (status, output) = try await run(
                [
                    "user", "create", "--config", config, "--email", email, "--first-name", "T", "--last-name", "U",
                    "--role", role,
                ],
                environment: environment.merging(["GATEHOUSE_PASSWORD": password]) { $1 }
            )
            #expect(status == 0, "\(output)")
        }
        let server = try ChildProcess(Paths.gatehouse.path, ["serve", "--config", config], environment: environment)
        defer { server.stop() }
        let listening = try await server.waitForLine(containing: "listening on 127.0.0.1:")
        let port = try #require(Int(listening.split(separator: ":").last ?? ""))
        let client = TestClient(port: port)
        let rootToken = try await client.login("root@example.com", "Adm1n!pass-phrase")
        let userToken = try await client.login("user@example.com", "Us3r!pass-phrase")

        let schemathesis = URL(fileURLWithPath: Paths.python).deletingLastPathComponent()
            .appendingPathComponent("schemathesis").path
        for (who, extra) in [
            ("anonymous", [String]()),
            ("user", ["-H", "Authorization: Bearer \(userToken)", "--exclude-path-regex", Self.sessionEnding]),
            ("rootAdmin", ["-H", "Authorization: Bearer \(rootToken)", "--exclude-path-regex", Self.sessionEnding]),
        ] {
            let run = try ChildProcess(
                schemathesis,
                [
                    "run", "http://127.0.0.1:\(port)/openapi.json", "--checks", Self.checks, "--max-examples", "5",
                    "--workers", "2", "--seed", "20261129", "--no-color",
                ] + extra,
                environment: ["SCHEMATHESIS_HOOKS": "", "HOME": dir.path]
            )
            let status = try await run.wait(timeout: 600)
            let summary = run.lines.last { $0.contains(" in ") && $0.contains("=====") } ?? "no summary"
            #expect(status == 0, "schemathesis as \(who): \(summary)\n\(run.text.suffix(4000))")
            #expect(!run.text.contains("FAILURES"), "schemathesis as \(who)")
            print("schemathesis as \(who): \(summary)")
        }
        #expect(try await client.get("/health").status == 200)
        server.signal(SIGTERM)
        #expect(try await server.wait() == 0)
    }
}
