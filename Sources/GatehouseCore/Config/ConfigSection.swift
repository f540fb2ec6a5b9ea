import Configuration
import Foundation
import Synchronization

/// A config value that was refused; `path` is the key's dotted path (e.g. `server.port`).
public struct ConfigIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Every key read while a config is loaded. The host compares the keys found in the file and
/// the environment against this set, so an unknown key is refused with no separate list to
/// keep in step with the code. The rule that follows: read every key of your section on every
/// load, not only when another key asks for it.
public final class ConfigKeyRecorder: Sendable {
    private let keys = Mutex<Set<String>>([])
    public init() {}
    func record(_ path: String) { keys.withLock { _ = $0.insert(path) } }
    public var recorded: Set<String> { keys.withLock { $0 } }
}

/// Which keys a config sets at all: the file's key paths and the environment's variable names.
/// A read of a key set nowhere (most of them: every country of the age table, every default)
/// then returns at once, instead of asking each provider three times (as a number, as text,
/// as a list), each environment lookup encoding the key anew.
public struct ConfigPresence: Sendable {
    let fileKeys: Set<String>
    let variables: Set<String>

    public init(fileKeys: some Sequence<String>, variables: some Sequence<String>) {
        self.fileKeys = Set(fileKeys)
        self.variables = Set(variables)
    }

    /// Whether the file or the environment may hold `path`.
    func mayHold(_ path: String) -> Bool {
        fileKeys.contains(path) || variables.contains(Self.environmentName(forKey: path))
    }

    /// The environment variable that overrides a key: `GATEHOUSE_` + the components, each split
    /// where a lower-case letter meets an upper-case one, upper-cased, joined by `_`
    /// (`server.secureCookies` → `GATEHOUSE_SERVER_SECURE_COOKIES`), as swift-configuration's
    /// environment provider encodes keys. Keys are ASCII; anything else becomes `_`.
    public static func environmentName(forKey key: String) -> String {
        var out = Array("GATEHOUSE_".utf8)
        var previous: UInt8 = 0
        for byte in key.utf8 {
            let isLower = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")
            let isUpper = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            if byte == UInt8(ascii: ".") {
                out.append(UInt8(ascii: "_"))
                previous = 0
                continue
            }
            if isUpper, previous >= UInt8(ascii: "a"), previous <= UInt8(ascii: "z") { out.append(UInt8(ascii: "_")) }
            out.append(isLower ? byte - 32 : (isUpper || isDigit ? byte : UInt8(ascii: "_")))
            previous = byte
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A typed, validating view of one part of the config (`server`, `policies.rateLimit`, ...).
///
/// Values come from swift-configuration's providers (environment first, then the YAML file).
/// A value that is present but of the wrong type or out of range throws a `ConfigIssue` naming
/// its path, instead of falling back to the default.
public struct ConfigSection: Sendable {
    let reader: ConfigReader
    let components: [String]
    public let recorder: ConfigKeyRecorder
    /// What the sources set, when known: keys set nowhere are not looked up.
    let presence: ConfigPresence?

    public init(
        reader: ConfigReader,
        path: String = "",
        recorder: ConfigKeyRecorder = ConfigKeyRecorder(),
        presence: ConfigPresence? = nil
    ) {
        self.reader = reader
        self.components = path.isEmpty ? [] : path.split(separator: ".").map(String.init)
        self.recorder = recorder
        self.presence = presence
    }

    /// The dotted path of this section.
    public var path: String { components.joined(separator: ".") }

    public func section(_ name: String) -> ConfigSection {
        ConfigSection(reader: reader, path: fullPath(name), recorder: recorder, presence: presence)
    }

    /// The dotted path of `key` in this section.
    public func fullPath(_ key: String) -> String {
        (components + key.split(separator: ".").map(String.init)).joined(separator: ".")
    }

    public func issue(_ key: String, _ message: String) -> ConfigIssue {
        ConfigIssue(path: fullPath(key), message: message)
    }

    /// The key to look up, recorded as known; nil when no source sets it.
    private func configKey(_ key: String) -> ConfigKey? {
        let path = fullPath(key)
        recorder.record(path)
        if let presence, !presence.mayHold(path) { return nil }
        return ConfigKey(components + key.split(separator: ".").map(String.init))
    }

    /// The raw text of a scalar, if any provider has one (every scalar reads as a string).
    private func rawScalar(_ key: ConfigKey, isSecret: Bool) -> String? {
        reader.string(forKey: key, isSecret: isSecret)
    }

    private func isList(_ key: ConfigKey) -> Bool {
        reader.stringArray(forKey: key) != nil
    }

    // MARK: Scalars

    public func optionalString(_ key: String, isSecret: Bool = false) throws -> String? {
        guard let k = configKey(key) else { return nil }
        if let value = rawScalar(k, isSecret: isSecret) { return value }
        if isList(k) { throw issue(key, "must be a single value, not a list") }
        return nil
    }

    public func string(_ key: String, default defaultValue: String, isSecret: Bool = false) throws -> String {
        try optionalString(key, isSecret: isSecret) ?? defaultValue
    }

    public func optionalInt(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let k = configKey(key) else { return nil }
        if let value = reader.int(forKey: k) {
            guard range.contains(value) else {
                throw issue(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
            }
            return value
        }
        if let raw = rawScalar(k, isSecret: false) { throw issue(key, "must be a whole number, got \"\(raw)\"") }
        if isList(k) { throw issue(key, "must be a whole number, not a list") }
        return nil
    }

    public func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        try optionalInt(key, in: range) ?? defaultValue
    }

    public func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let k = configKey(key) else { return defaultValue }
        if let value = reader.bool(forKey: k) { return value }
        if let raw = rawScalar(k, isSecret: false) { throw issue(key, "must be true or false, got \"\(raw)\"") }
        if isList(k) { throw issue(key, "must be true or false, not a list") }
        return defaultValue
    }

    /// One of a fixed set of values, e.g. `starttls|tls|none`.
    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: T) throws -> T
    where T.RawValue == String {
        guard let raw = try optionalString(key) else { return defaultValue }
        guard let value = T(rawValue: raw) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw issue(key, "must be one of \(allowed), got \"\(raw)\"")
        }
        return value
    }

    /// A list: a YAML sequence, or a comma-separated environment variable. Empty items are dropped.
    public func stringList(_ key: String, default defaultValue: [String]) throws -> [String] {
        guard let k = configKey(key) else { return defaultValue }
        if let values = reader.stringArray(forKey: k) {
            return values.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let raw = rawScalar(k, isSecret: false) {
            // A YAML scalar where a list belongs; an empty scalar (`key:`) is an empty list.
            if raw.trimmingCharacters(in: .whitespaces).isEmpty { return [] }
            throw issue(key, "must be a list, got \"\(raw)\"")
        }
        return defaultValue
    }
}
