import Hummingbird

#if canImport(Glibc)
    import Glibc
#endif

// `bare PORT`: GET /health answers {"status":"ok"} as application/json, as Gatehouse's does, and
// prints "listening on 127.0.0.1:PORT" once bound (PORT 0 picks a free one).
let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0
let router = Router()
let body = ByteBuffer(string: #"{"status":"ok"}"#)
router.get("health") { _, _ in
    Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
}
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "Gatehouse"),
    onServerRunning: { channel in
        print("listening on 127.0.0.1:\(channel.localAddress?.port ?? port)")
        fflush(nil)  // every stream: stdout is read by the benchmark through a pipe
    }
)
try await app.runService()
