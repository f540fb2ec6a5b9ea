import Foundation
import TestSupport
import Testing

/// `GET /metrics` on the metrics listener of the `gatehouse` executable, after some traffic.
@Suite struct MetricsTests {
    @Test func everySeriesFamilyIsServedOnItsOwnListener() async throws {
        let dir = try Paths.temporaryDirectory("e2e-metrics")
        let environment = [
            "GATEHOUSE_DATABASE_PATH": dir.appendingPathComponent("gatehouse.sqlite").path,
            "GATEHOUSE_SERVER_HOST": "127.0.0.1", "GATEHOUSE_SERVER_PORT": "0", "GATEHOUSE_METRICS_PORT": "0",
        ]
        let config = Paths.root.appendingPathComponent("etc/gatehouse.yaml").path
        let server = try ChildProcess(Paths.gatehouse.path, ["serve", "--config", config], environment: environment)
        defer { server.stop() }
        let listening = try await server.waitForLine(containing: "listening on 127.0.0.1:")
        let client = TestClient(port: try #require(Int(listening.split(separator: ":").last ?? "")))
        let metricsLine = try await server.waitForLine(containing: "metrics on 127.0.0.1:")
        let metricsPort = try #require(
            Int(metricsLine.split(separator: ":").last?.split(separator: "/").first ?? "")
        )

        #expect(
            try await client.post(
                "/api/users/register",
                #"{"email":"ada@example.com","password":"Str0ng!pass","firstName":"Ada","lastName":"L"}"#
            ).status == 201
        )
        let token = try await client.login("ada@example.com", "Str0ng!pass")
        #expect(try await client.get("/api/users/me", bearer: token).status == 200)
        #expect(try await client.get("/api/users/me", bearer: token).status == 200)
        let wrong = try await client.post("/api/auth/login", #"{"email":"ada@example.com","password":"nope"}"#)
        #expect(wrong.status == 401)
        server.signal(SIGHUP)
        _ = try await server.waitForLine(containing: "config reloaded")
        // The verification mail goes through the log provider.
        _ = try await server.waitForLine(containing: "delivered")

        let scrape = try await TestClient(port: metricsPort).get("/metrics")
        #expect(scrape.status == 200)
        #expect(scrape.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = scrape.body
        for series in [
            #"gatehouse_http_requests_total{route="/api/auth/login",method="POST",status="200"} 1"#,
            #"gatehouse_http_requests_total{route="/api/auth/login",method="POST",status="401"} 1"#,
            #"gatehouse_http_request_duration_seconds_bucket{route="/api/users/{id}",method="GET",le="#,
            #"gatehouse_sign_ins_total{outcome="ok"} 1"#, #"gatehouse_sign_ins_total{outcome="failed"} 1"#,
            #"gatehouse_sign_ins_total{outcome="locked"} 0"#, #"gatehouse_sign_ins_total{outcome="two_factor"} 0"#,
            "gatehouse_registrations_total 1", "gatehouse_password_hash_duration_seconds_count",
            "gatehouse_password_hashes_queued 0", "gatehouse_password_hashes_running 0",
            #"gatehouse_session_cache_lookups_total{result="hit"}"#,
            #"gatehouse_session_cache_lookups_total{result="miss"}"#,
            #"gatehouse_outbox_mails{status="sent"} 1"#, #"gatehouse_outbox_mails{status="failed"} 0"#,
            #"gatehouse_mail_deliveries_total{provider="log",outcome="sent"} 1"#, "gatehouse_mail_retries_total 0",
            #"gatehouse_config_reloads_total{outcome="ok"} 1"#, #"gatehouse_config_reloads_total{outcome="refused"} 0"#,
            "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
            "process_start_time_seconds",
        ] {
            #expect(text.contains(series), "\(series)")
        }
        // The shipped dashboard asks only for series that exist.
        let dashboard = try String(
            contentsOf: Paths.root.appendingPathComponent("etc/grafana-dashboard.json"),
            encoding: .utf8
        )
        #expect((try? JSONSerialization.jsonObject(with: Data(dashboard.utf8))) != nil)
        let asked = Set(dashboard.matches(of: /\b(?:gatehouse|process)_[a-z_]+/).map { String($0.0) })
        #expect(asked.count >= 12)
        for name in asked {
            #expect(text.contains("\n\(name)") || text.contains("\n\(name){"), "the dashboard asks for \(name)")
        }

        // Not on the API's listener.
        #expect(try await client.get("/metrics").status == 404)
        server.signal(SIGTERM)
        let status = try await server.wait()
        #expect(status == 0, "\(server.text.suffix(1500))")
    }
}
