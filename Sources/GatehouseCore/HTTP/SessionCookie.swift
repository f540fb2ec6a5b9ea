import Foundation
import Hummingbird

/// The session cookie (CONTRACT §1): HttpOnly, SameSite=Lax, Secure when `server.secureCookies`.
public enum SessionCookie {
    public static let name = "gatehouse_session"

    public static func make(token: String, settings: CoreSettings) -> Cookie {
        Cookie(
            name: name,
            value: token,
            maxAge: Int(settings.sessions.lifetime),
            path: "/",
            secure: settings.server.secureCookies,
            httpOnly: true,
            sameSite: .lax
        )
    }

    /// Tells the browser to drop the cookie (`Max-Age=0`).
    public static func clear(settings: CoreSettings) -> Cookie {
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
