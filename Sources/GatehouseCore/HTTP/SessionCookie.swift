import Foundation
import Hummingbird

/// The session cookie (CONTRACT §1): HttpOnly, SameSite=Lax, Secure when `server.secureCookies`.
public enum SessionCookie {
    public static let name = "gatehouse_session"

    /// The cookie for a new session. `persistent: false` makes a browser-session cookie (no
    /// Max-Age), for a sign-in's `rememberMe: false`.
    public static func make(
        token: String,
        settings: CoreSettings,
        name: String = SessionCookie.name,
        persistent: Bool = true
    ) -> Cookie {
        Cookie(
            name: name,
            value: token,
            maxAge: persistent ? Int(settings.sessions.lifetime) : nil,
            path: "/",
            secure: settings.server.secureCookies,
            httpOnly: true,
            sameSite: .lax
        )
    }

    /// Tells the browser to drop the cookie (`Max-Age=0`).
    public static func clear(settings: CoreSettings, name: String = SessionCookie.name) -> Cookie {
        Cookie(
            name: name,
            value: "",
            maxAge: 0,
            path: "/",
            secure: settings.server.secureCookies,
            httpOnly: true,
            sameSite: .lax
        )
    }
}
