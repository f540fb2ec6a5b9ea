import Foundation
import GatehouseCore
import Logging
import Synchronization

/// `log.format: json`: one JSON object per line on standard output, for a log collector:
/// `time` (UTC, milliseconds), `level`, `logger`, `message`, then the line's metadata as
/// strings (a request's `request_id`, `method`, `route`, `status`, `duration_ms`, `user_id`,
/// `client_ip`). Lines are written whole, one `write` each, so concurrent lines never mix.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level,
        message: Logger.Message,
        metadata explicit: Logger.Metadata?,
        source: String,
        file: String,
        function: String,
        line: UInt
    ) {
        var members: [(String, JSONValue)] = [
            ("time", .string(Timestamp.string(Date()))),
            ("level", .string(level.rawValue)),
            ("logger", .string(label)),
            ("message", .string(message.description)),
        ]
        let merged = metadata.merging(explicit ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            members.append((key, Self.json(value)))
        }
        var bytes = JSONValue.object(members).serialized
        bytes.append(UInt8(ascii: "\n"))
        Self.lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0, errno == EINTR || errno == EAGAIN { continue }
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }

    static let lock = Mutex(())

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let convertible): return .string(convertible.description)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let members):
            return .object(members.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) })
        }
    }
}
