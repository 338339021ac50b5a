import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api/client";
import { SessionContext } from "../session";
import { LoginPage } from "./Login";

afterEach(() => vi.unstubAllGlobals());

function renderLogin(signIn: (u: string, p: string) => Promise<void>) {
  const value = { session: null, checking: false, signIn, signOut: vi.fn(), rememberClient: vi.fn() };
  render(
    <SessionContext.Provider value={value}>
      <MemoryRouter initialEntries={["/login"]}>
        <LoginPage />
      </MemoryRouter>
    </SessionContext.Provider>,
  );
}

describe("Login page", () => {
  it("sends the username and password", async () => {
    const signIn = vi.fn().mockResolvedValue(undefined);
    renderLogin(signIn);
    await userEvent.type(screen.getByLabelText("Username"), "carol");
    await userEvent.type(screen.getByLabelText("Password"), "secret pass");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(signIn).toHaveBeenCalledWith("carol", "secret pass");
  });

  it("shows the server's message for wrong credentials and the wait when throttled", async () => {
    const signIn = vi
      .fn()
      .mockRejectedValueOnce(new ApiError(401, "invalid_credentials", "Wrong username or password."))
      .mockRejectedValueOnce(new ApiError(429, "rate_limited", "Too many failed sign-in attempts.", {}, 600));
    renderLogin(signIn);
    await userEvent.type(screen.getByLabelText("Username"), "carol");
    await userEvent.type(screen.getByLabelText("Password"), "nope");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password.");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too many failed attempts. Try again in 10 min.");
  });
});
