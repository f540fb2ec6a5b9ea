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

/// A typed, validating view of one part of the config (`server`, `policies.rateLimit`, ...).
///
/// Values come from swift-configuration's providers (environment first, then the YAML file).
/// A value that is present but of the wrong type or out of range throws a `ConfigIssue` naming
/// its path, instead of falling back to the default.
public struct ConfigSection: Sendable {
    let reader: ConfigReader
    let components: [String]
    public let recorder: ConfigKeyRecorder

    public init(reader: ConfigReader, path: String = "", recorder: ConfigKeyRecorder = ConfigKeyRecorder()) {
        self.reader = reader
        self.components = path.isEmpty ? [] : path.split(separator: ".").map(String.init)
        self.recorder = recorder
    }

    /// The dotted path of this section.
    public var path: String { components.joined(separator: ".") }

    public func section(_ name: String) -> ConfigSection {
        ConfigSection(reader: reader, path: fullPath(name), recorder: recorder)
    }

    /// The dotted path of `key` in this section.
    public func fullPath(_ key: String) -> String {
        (components + key.split(separator: ".").map(String.init)).joined(separator: ".")
    }

    public func issue(_ key: String, _ message: String) -> ConfigIssue {
        ConfigIssue(path: fullPath(key), message: message)
    }

    private func configKey(_ key: String) -> ConfigKey {
        recorder.record(fullPath(key))
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
        let k = configKey(key)
        if let value = rawScalar(k, isSecret: isSecret) { return value }
        if isList(k) { throw issue(key, "must be a single value, not a list") }
        return nil
    }

    public func string(_ key: String, default defaultValue: String, isSecret: Bool = false) throws -> String {
        try optionalString(key, isSecret: isSecret) ?? defaultValue
    }

    public func optionalInt(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        let k = configKey(key)
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
        let k = configKey(key)
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
        let k = configKey(key)
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
