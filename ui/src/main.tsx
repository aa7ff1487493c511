import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createBrowserRouter, RouterProvider } from "react-router";
import { createAppContext, Providers, routes } from "./App";
import "./styles.css";

const root = document.getElementById("root");
if (!root) {
  throw new Error("index.html has no #root");
}
const context = createAppContext();
const router = createBrowserRouter(routes);
createRoot(root).render(
  <StrictMode>
    <Providers context={context}>
      <RouterProvider router={router} />
    </Providers>
  </StrictMode>,
);
