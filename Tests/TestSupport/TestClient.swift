import Curl
import Foundation
import GatehouseCore

/// An HTTP client for the tests: real requests over loopback through libcurl.
public struct TestClient: Sendable {
    public let baseURL: String

    public init(port: Int) { baseURL = "http://127.0.0.1:\(port)" }

    public struct Reply: Sendable, CustomStringConvertible {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String

        public func header(_ name: String) -> String? {
            headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
        }

        public func headers(_ name: String) -> [String] {
            headers.filter { $0.0.caseInsensitiveCompare(name) == .orderedSame }.map(\.1)
        }

        /// The body as JSON (objects' members sorted by key), or nil when it is not JSON.
        public var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8)) }

        /// The `error` message of an error body.
        public var error: String? { json?["error"]?.stringValue }

        /// The value of a `Set-Cookie` for `name` (nil when none).
        public func cookie(_ name: String) -> String? {
            for value in headers("Set-Cookie") where value.hasPrefix("\(name)=") {
                return String(value.dropFirst(name.count + 1).prefix { $0 != ";" })
            }
            return nil
        }

        public var description: String { "\(status) \(body)" }
    }

    public func request(
        _ method: String,
        _ path: String,
        body: String? = nil,
        bytes: [UInt8]? = nil,
        headers: [(String, String)] = [],
        bearer: String? = nil
    ) async throws -> Reply {
        var allHeaders = headers
        if let bearer { allHeaders.append(("Authorization", "Bearer \(bearer)")) }
        let payload = bytes ?? body.map { Array($0.utf8) }
        if payload != nil, !allHeaders.contains(where: { $0.0.lowercased() == "content-type" }) {
            allHeaders.append(("Content-Type", "application/json"))
        }
        let response = try await Curl.shared.perform(
            CurlRequest(method: method, url: baseURL + path, headers: allHeaders, body: payload, timeout: 120)
        )
        return Reply(
            status: response.status,
            headers: response.headers,
            body: String(decoding: response.body, as: UTF8.self)
        )
    }

    public func get(_ path: String, bearer: String? = nil, headers: [(String, String)] = []) async throws -> Reply {
        try await request("GET", path, headers: headers, bearer: bearer)
    }

    public func post(_ path: String, _ body: String? = nil, bearer: String? = nil, headers: [(String, String)] = [])
        async throws -> Reply
    {
        try await request("POST", path, body: body ?? "", headers: headers, bearer: bearer)
    }

    public func put(_ path: String, _ body: String, bearer: String? = nil, headers: [(String, String)] = [])
        async throws -> Reply
    {
        try await request("PUT", path, body: body, headers: headers, bearer: bearer)
    }

    /// Sends again while the service sheds the request (503 with `Retry-After`: the password
    /// hashing queue is full), waiting as it says, as a well-behaved client does.
    public func honoringRetryAfter(_ send: () async throws -> Reply) async throws -> Reply {
        var reply = try await send()
        for _ in 0..<30 {
            guard reply.status == 503, let wait = reply.header("Retry-After").flatMap(Double.init) else { break }
            try await Task.sleep(for: .seconds(wait))
            reply = try await send()
        }
        return reply
    }

    /// Signs in (honouring a `Retry-After`) and returns the session token.
    public func login(_ email: String, _ password: String) async throws -> String {
        let reply = try await honoringRetryAfter {
            try await post("/api/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
        }
        guard reply.status == 200, let token = reply.json?["token"]?.stringValue else {
            throw TestFailure("login failed: \(reply)")
        }
        return token
    }
}
