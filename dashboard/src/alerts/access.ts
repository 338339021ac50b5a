import { useSession } from "../session";

/** Whether the signed-in user may change the current client's alert rules (the admin role). */
export function useCanAdminister(): boolean {
  const { session } = useSession();
  const slug = session?.current_client?.slug;
  return session?.memberships.find((m) => m.slug === slug)?.role === "admin";
}
