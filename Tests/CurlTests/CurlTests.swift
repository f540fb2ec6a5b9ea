import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle
import TestSupport
import Testing

@testable import Curl

/// A real HTTP server on loopback that echoes what it received as JSON headers and body.
func withEchoServer(_ body: @Sendable (Int) async throws -> Void) async throws {
    let router = Router()
    router.on("echo/{status}", method: .post) { request, context -> Response in
        let status = Int(context.parameters.get("status") ?? "200") ?? 200
        let received = try await request.body.collect(upTo: 1 << 20)
        var headers = HTTPFields()
        headers[HTTPField.Name("X-Echo-Method")!] = request.method.rawValue
        headers[HTTPField.Name("X-Echo-Auth")!] = request.headers[.authorization] ?? "-"
        headers[HTTPField.Name("X-Echo-Type")!] = request.headers[.contentType] ?? "-"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: received))
    }
    router.get("slow") { _, _ -> String in
        try await Task.sleep(for: .seconds(5))
        return "late"
    }
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }
    )
    // Stopped by a graceful shutdown, not by cancelling its task: cancelling a server while a
    // connection is being accepted can drop that connection's writer unfinished (a trap in NIO).
    let group = ServiceGroup(services: [app], logger: Logger(label: "echo"))
    let task = Task { try await group.run() }
    var iterator = ports.makeAsyncIterator()
    let port = await iterator.next() ?? 0
    do {
        guard port > 0 else { throw TestFailure("the echo server did not start") }
        try await body(port)
    } catch {
        await group.triggerGracefulShutdown()
        _ = await task.result
        throw error
    }
    await group.triggerGracefulShutdown()
    _ = await task.result
}

@Suite struct CurlHTTPTests {
    @Test func postsBytesWithHeadersAndReadsTheReply() async throws {
        try await withEchoServer { port in
            let payload = Array(#"{"to":"ü@example.com"}"#.utf8)
            let response = try await Curl.shared.perform(
                CurlRequest(
                    method: "POST",
                    url: "http://127.0.0.1:\(port)/echo/202",
                    headers: [("Authorization", "Bearer k"), ("Content-Type", "application/json")],
                    body: payload
                )
            )
            #expect(response.status == 202)
            #expect(response.body == payload)
            #expect(response.header("x-echo-method") == "POST")
            #expect(response.header("X-Echo-Auth") == "Bearer k")
            #expect(response.header("X-Echo-Type") == "application/json")
        }
    }

    @Test func errorStatusesAreResponsesNotErrors() async throws {
        try await withEchoServer { port in
            let response = try await Curl.shared.perform(
                CurlRequest(method: "POST", url: "http://127.0.0.1:\(port)/echo/503", body: Array("busy".utf8))
            )
            #expect(response.status == 503)
            #expect(String(decoding: response.body, as: UTF8.self) == "busy")
        }
    }

    @Test func timeoutsAndRefusedConnectionsAreTyped() async throws {
        try await withEchoServer { port in
            await #expect(throws: CurlError.self) {
                do {
                    _ = try await Curl.shared.perform(CurlRequest(url: "http://127.0.0.1:\(port)/slow", timeout: 0.5))
                } catch let error as CurlError {
                    #expect(error.kind == .timeout)
                    throw error
                }
            }
        }
        // Port 1 on loopback: nobody listens there.
        do {
            _ = try await Curl.shared.perform(CurlRequest(url: "http://127.0.0.1:1/", timeout: 30))
            Issue.record("expected a connection error")
        } catch let error as CurlError {
            #expect(error.kind == .connection)
        }
    }

    @Test func onlyHTTPSchemesAreFollowed() async throws {
        await #expect(throws: CurlError.self) {
            _ = try await Curl.shared.perform(CurlRequest(url: "file:///etc/passwd"))
        }
    }
}

@Suite(.serialized) struct CurlSMTPTests {
    static let message = Array(
        ("From: Gatehouse <gatehouse@example.test>\r\nTo: ada@example.test\r\nSubject: Hello\r\n"
            + "Message-ID: <abc@example.test>\r\n\r\nLine one\r\n.starts with a dot\r\n").utf8
    )

    @Test func sendsToAPlainServer() async throws {
        let server = try await SMTPServer()
        defer { server.stop() }
        let result = try await Curl.shared.send(
            SMTPSubmission(
                host: "127.0.0.1",
                port: server.port,
                security: .none,
                from: "gatehouse@example.test",
                recipients: ["ada@example.test", "bob@example.test"],
                message: Self.message,
                timeout: 90
            )
        )
        #expect(result.responseCode == 250)
        let received = try await server.waitForMessages(1)
        #expect(received[0].envelopeFrom == "gatehouse@example.test")
        #expect(received[0].envelopeTo == ["ada@example.test", "bob@example.test"])
        #expect(received[0].raw.contains("Subject: Hello\r\n"))
        // libcurl dot-stuffed the line, and the server removed the stuffing again.
        #expect(received[0].raw.contains("\r\n.starts with a dot\r\n"))
    }

    @Test func authenticatesOverSTARTTLS() async throws {
        let certificate = try TestCertificate()
        let server = try await SMTPServer(.init(auth: ("mailer", "p4ss"), tls: (certificate.cert, certificate.key)))
        defer { server.stop() }
        let submission = SMTPSubmission(
            host: "127.0.0.1",
            port: server.port,
            security: .starttls,
            username: "mailer",
            password: "p4ss",
            from: "gatehouse@example.test",
            recipients: ["ada@example.test"],
            message: Self.message,
            timeout: 90,
            caFile: certificate.cert
        )
        _ = try await Curl.shared.send(submission)
        let received = try await server.waitForMessages(1)
        #expect(received[0].authenticatedAs == "mailer")

        var wrongPassword = submission
        wrongPassword.password = "wrong"
        do {
            _ = try await Curl.shared.send(wrongPassword)
            Issue.record("a wrong password was accepted")
        } catch let error as CurlError {
            #expect(error.kind == .authentication)
            #expect(!error.description.contains("wrong"))
        }

        // Without trusting the throw-away CA, the certificate check fails.
        var untrusted = submission
        untrusted.caFile = nil
        do {
            _ = try await Curl.shared.send(untrusted)
            Issue.record("an untrusted certificate was accepted")
        } catch let error as CurlError {
            #expect(error.kind == .tls)
        }
    }

    @Test func speaksImplicitTLS() async throws {
        let certificate = try TestCertificate()
        let server = try await SMTPServer(.init(tls: (certificate.cert, certificate.key), implicitTLS: true))
        defer { server.stop() }
        _ = try await Curl.shared.send(
            SMTPSubmission(
                host: "127.0.0.1",
                port: server.port,
                security: .tls,
                from: "gatehouse@example.test",
                recipients: ["ada@example.test"],
                message: Self.message,
                timeout: 90,
                caFile: certificate.cert
            )
        )
        #expect(try await server.waitForMessages(1).count == 1)
    }

    @Test func aServerThatIsDownIsAConnectionError() async throws {
        do {
            _ = try await Curl.shared.send(
                SMTPSubmission(
                    host: "127.0.0.1",
                    port: 1,
                    security: .none,
                    from: "a@example.test",
                    recipients: ["b@example.test"],
                    message: Self.message,
                    timeout: 30
                )
            )
            Issue.record("sent to nobody")
        } catch let error as CurlError {
            #expect(error.kind == .connection)
        }
    }
}
