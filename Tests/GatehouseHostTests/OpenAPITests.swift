import Foundation
import GatehouseCore
import TestSupport
import Testing

@testable import GatehouseHost

/// The OpenAPI document against the server: it describes every route the shipped modules
/// mount and no other, it is a valid OpenAPI 3.1 document (openapi-spec-validator), and it is
/// served as YAML and JSON.
@Suite struct OpenAPITests {
    @Test func theDocumentDescribesEveryMountedRouteAndIsValid() async throws {
        try await TestServer.run { server in
            let json = try await server.client.get("/openapi.json")
            #expect(json.status == 200)
            #expect(json.json?["openapi"] == "3.1.0")
            guard case .object(let paths)? = json.json?["paths"] else {
                Issue.record("no paths: \(json.body.prefix(200))")
                return
            }
            var documented: Set<String> = []
            for (path, item) in paths {
                guard case .object(let operations) = item else { continue }
                for (method, _) in operations { documented.insert("\(method.uppercased()) \(path)") }
            }
            let mounted = Set(server.host.mountedRoutes.withLock { $0 })
            #expect(mounted.subtracting(documented).sorted() == [], "mounted, not documented")
            #expect(documented.subtracting(mounted).sorted() == [], "documented, not mounted")

            let yaml = try await server.client.get("/openapi.yaml")
            #expect(yaml.status == 200 && yaml.header("Content-Type")?.hasPrefix("application/yaml") == true)
            let file = try Paths.temporaryDirectory("openapi")
            let copy = file.appendingPathComponent("openapi.yaml")
            try yaml.body.write(to: copy, atomically: true, encoding: .utf8)
            let validator = try ChildProcess(
                Paths.python,
                [
                    "-c",
                    "import sys, yaml; from openapi_spec_validator import validate; validate(yaml.safe_load(open(sys.argv[1]))); print('valid')",
                    copy.path,
                ]
            )
            #expect(try await validator.wait() == 0, "\(validator.text)")
            #expect(validator.lines.contains("valid"), "\(validator.text)")
        }
    }
}
