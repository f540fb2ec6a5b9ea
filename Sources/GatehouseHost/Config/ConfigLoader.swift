import Configuration
import Foundation
import GatehouseCore
import SystemPackage
import Yams

/// Where a config comes from: an optional YAML file, and the environment over it.
public struct ConfigSource: Sendable {
    /// The YAML file; nil runs on the embedded defaults (and the environment).
    public var filePath: String?
    public var environment: [String: String]

    public init(filePath: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.filePath = filePath
        self.environment = environment
    }
}

/// Several refused values at once, each naming its key.
public struct ConfigRefused: Error, CustomStringConvertible {
    public var issues: [ConfigIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Reads a config, validates every key, and builds the runtime it describes.
public enum ConfigLoader {
    /// Environment variables with our prefix that are not config keys.
    static let reservedVariables: Set<String> = ["GATEHOUSE_CONFIG", "GATEHOUSE_PASSWORD"]

    public static func load(_ source: ConfigSource) async throws -> Runtime {
        let secrets = SecretsSpecifier<String, String>.dynamic { name, _ in
            name.hasSuffix("_PASSWORD") || name.hasSuffix("_KEY")
        }
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(
                environmentVariables: source.environment.filter { $0.key.hasPrefix("GATEHOUSE_") },
                secretsSpecifier: secrets
            ).prefixKeys(with: "gatehouse"),
            // StellarStack's names (EMAIL_PROVIDER, SMTP_HOST, ...), below ours.
            EnvironmentVariablesProvider(
                environmentVariables: stellarStackVariables(source.environment),
                secretsSpecifier: secrets
            ).prefixKeys(with: "gatehouse"),
        ]
        var fileKeys: [String] = []
        if let path = source.filePath {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigRefused(issues: [ConfigIssue(path: path, message: "cannot read the config file")])
            }
            do {
                fileKeys = try keyPaths(yaml: text)
                // An empty file (or one of comments only) is all defaults.
                if !fileKeys.isEmpty {
                    providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
                }
            } catch let issue as ConfigIssue {
                throw ConfigRefused(issues: [issue])
            } catch {
                throw ConfigRefused(issues: [ConfigIssue(path: path, message: "not valid YAML: \(error)")])
            }
        }

        let root = ConfigSection(reader: ConfigReader(providers: providers))
        var issues: [ConfigIssue] = []
        func record(_ error: any Error) {
            issues.append((error as? ConfigIssue) ?? ConfigIssue(path: "(config)", message: "\(error)"))
        }

        var settings: CoreSettings?
        do {
            settings = try CoreSettings.read(root, defaultModules: Registry.defaultModules)
        } catch {
            record(error)
        }
        // Every module reads (and so validates) its section, loaded or not, so that a section of
        // a module that is switched off is still checked and still counts as known.
        var instances: [String: any GatehouseModule] = [:]
        for type in Registry.all {
            do {
                instances[type.id] = try makeModule(type, root)
            } catch {
                record(error)
            }
        }
        var modules: [any GatehouseModule] = []
        for id in settings?.modules ?? [] {
            if let type = Registry.type(id: id), type.kind == .mail {
                issues.append(
                    ConfigIssue(path: "modules", message: "\"\(id)\" is a mail provider: choose it with mail.provider")
                )
            } else if let instance = instances[id] {
                modules.append(instance)
            } else if Registry.type(id: id) == nil {
                let known = Registry.all.map { $0.id }.joined(separator: ", ")
                issues.append(ConfigIssue(path: "modules", message: "unknown module \"\(id)\" (known: \(known))"))
            }
        }

        // A refused value stops the reading of its section, so its later keys were never seen:
        // report unknown keys once every value is good, lest they all look unknown.
        guard issues.isEmpty, let settings else { throw ConfigRefused(issues: issues) }

        let known = root.recorder.recorded
        for key in fileKeys where !known.contains(key) {
            issues.append(ConfigIssue(path: key, message: "unknown key"))
        }
        let knownVariables = Set(known.map(environmentName(forKey:)))
        for name in source.environment.keys.sorted()
        where name.hasPrefix("GATEHOUSE_") && !knownVariables.contains(name) && !reservedVariables.contains(name) {
            issues.append(ConfigIssue(path: name, message: "unknown environment variable"))
        }

        guard let mailer = instances["mail.\(settings.mail.provider.rawValue)"] as? any MailProvider else {
            throw ConfigRefused(
                issues: issues + [ConfigIssue(path: "mail.provider", message: "no such provider module")]
            )
        }
        guard issues.isEmpty else { throw ConfigRefused(issues: issues) }
        return Runtime(settings: settings, modules: modules, mailer: mailer)
    }

    /// StellarStack's mail variables, renamed to the `GATEHOUSE_` names they stand for.
    /// `SMTP_SECURE=true` means TLS from the start; `false`, STARTTLS.
    static func stellarStackVariables(_ environment: [String: String]) -> [String: String] {
        let names = [
            "EMAIL_PROVIDER": "GATEHOUSE_MAIL_PROVIDER",
            "EMAIL_FROM": "GATEHOUSE_MAIL_FROM",
            "RESEND_API_KEY": "GATEHOUSE_MAIL_RESEND_API_KEY",
            "SENDGRID_API_KEY": "GATEHOUSE_MAIL_SENDGRID_API_KEY",
            "SMTP_HOST": "GATEHOUSE_MAIL_SMTP_HOST",
            "SMTP_PORT": "GATEHOUSE_MAIL_SMTP_PORT",
            "SMTP_SECURE": "GATEHOUSE_MAIL_SMTP_SECURITY",
            "SMTP_USER": "GATEHOUSE_MAIL_SMTP_USER",
            "SMTP_PASS": "GATEHOUSE_MAIL_SMTP_PASSWORD",
        ]
        var renamed: [String: String] = [:]
        for (theirs, ours) in names {
            guard var value = environment[theirs] else { continue }
            if theirs == "SMTP_SECURE" {
                switch value.lowercased() {
                case "true", "1", "yes": value = "tls"
                case "false", "0", "no", "": value = "starttls"
                default: break
                }
            }
            renamed[ours] = value
        }
        return renamed
    }

    static func makeModule(_ type: any GatehouseModule.Type, _ root: ConfigSection) throws -> any GatehouseModule {
        try type.init(config: root)
    }

    /// The dotted path of every value in a YAML document (`server.port`, `features.login`, ...).
    static func keyPaths(yaml: String) throws -> [String] {
        guard let node = try Yams.compose(yaml: yaml) else { return [] }
        guard case .mapping = node else {
            throw ConfigIssue(path: "(file)", message: "the top level must be a mapping of keys")
        }
        var paths: [String] = []
        func walk(_ node: Node, _ prefix: [String]) {
            if case .mapping(let mapping) = node {
                for (key, value) in mapping {
                    walk(value, prefix + [key.string ?? "\(key)"])
                }
            } else {
                paths.append(prefix.joined(separator: "."))
            }
        }
        walk(node, [])
        return paths
    }

    /// The environment variable that overrides a key: `GATEHOUSE_` + the components, each split
    /// where a lower-case letter meets an upper-case one, upper-cased, joined by `_`
    /// (`server.secureCookies` → `GATEHOUSE_SERVER_SECURE_COOKIES`), as swift-configuration's
    /// environment provider encodes keys.
    public static func environmentName(forKey key: String) -> String {
        let components = key.split(separator: ".").map { component -> String in
            var out = ""
            var previous: Character?
            for character in component {
                if let previous, previous.isLowercase, character.isUppercase { out.append("_") }
                out.append(character.isLetter || character.isNumber ? character : "_")
                previous = character
            }
            return out.uppercased()
        }
        return (["GATEHOUSE"] + components).joined(separator: "_")
    }
}
