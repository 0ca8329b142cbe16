import { createContext, useContext } from "react";
import { ApiClient } from "./client";

export const ApiContext = createContext<ApiClient>(new ApiClient());

export function useApi(): ApiClient {
  return useContext(ApiContext);
}
